//! One signal per element of a list, by id: an element's view reads its own signal, set only
//! when that element changed, so a keystroke in one note of 500 (or one project of 200) updates
//! one card instead of making every card look for its element in the list.

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;

/// An element of a board that has an id.
pub trait Keyed: Clone + Default + PartialEq + Send + Sync + 'static {
    fn key(&self) -> &str;
}

impl Keyed for shared::Note {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for shared::Project {
    fn key(&self) -> &str {
        &self.id
    }
}

/// The signals of the elements of `list` that a view asked for, kept up to date by one effect.
pub struct Cards<T: Keyed> {
    list: RwSignal<Vec<T>>,
    signals: StoredValue<HashMap<String, ArcRwSignal<T>>, LocalStorage>,
}

impl<T: Keyed> Clone for Cards<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Keyed> Copy for Cards<T> {}

impl<T: Keyed> Cards<T> {
    /// Follows `list`: on each change, the signal of each element that changed is set and the
    /// signals of elements gone are dropped.
    pub fn new(list: RwSignal<Vec<T>>) -> Self {
        let cards = Self {
            list,
            signals: StoredValue::new_local(HashMap::new()),
        };
        Effect::new(move |_| {
            list.with(|items| {
                cards.signals.update_value(|signals| {
                    for item in items {
                        if let Some(signal) = signals.get(item.key())
                            && signal.with_untracked(|shown| shown != item)
                        {
                            signal.set(item.clone());
                        }
                    }
                    let ids: HashSet<&str> = items.iter().map(Keyed::key).collect();
                    signals.retain(|id, _| ids.contains(id.as_str()));
                })
            })
        });
        cards
    }

    /// The signal of element `id`, made from the list the first time a view asks for it (the
    /// default element when `id` is not in the list).
    pub fn get(&self, id: &str) -> Signal<T> {
        if let Some(signal) = self.signals.with_value(|signals| signals.get(id).cloned()) {
            return signal.read_only().into();
        }
        let item = self
            .list
            .with_untracked(|items| items.iter().find(|item| item.key() == id).cloned())
            .unwrap_or_default();
        let signal = ArcRwSignal::new(item);
        self.signals.update_value(|signals| {
            signals.insert(id.to_owned(), signal.clone());
        });
        signal.read_only().into()
    }
}
