//! The mind map editor: keyboard-first editing, automatic balanced layout, pan and zoom,
//! drag to re-parent or reorder, and the presence of the others (selection and pointers).

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use shared::doc::CENTRAL_NODE_ID;
use shared::doc::{child_text, edit_text};
use shared::layout::{Layout, Placed, Side, layout};
use shared::{Node, Tree};
use wasm_bindgen::JsCast;
use web_sys::{KeyboardEvent, PointerEvent, WheelEvent};
use yrs::{Map, MapRef, Out, TransactionMut};

use crate::i18n::{Key, use_i18n};
use crate::keyed::LONG_PRESS_MS;
use crate::session::{Session, credit};

const ZOOM_MIN: f64 = 0.2;
const ZOOM_MAX: f64 = 3.0;
const FIT_MARGIN_PX: f64 = 40.0;
/// A press that moves less than this is a click, not a drag.
const DRAG_THRESHOLD_PX: f64 = 5.0;
/// The smallest zoom of the presenter view: 14 px ideas show at 28 px.
const PRESENTER_SCALE_MIN: f64 = 2.0;
/// The idea menu's size at most (CSS px), to keep it inside the viewport.
const NODE_MENU_WIDTH_PX: f64 = 180.0;
const NODE_MENU_HEIGHT_PX: f64 = 290.0;
/// Two taps on the same idea within this time edit it.
const DOUBLE_TAP_MS: f64 = 400.0;
/// Where the node editor waits when nobody edits: in the page, focusable, out of sight.
const EDITOR_IDLE_STYLE: &str = "left:-10000px;top:0;width:10px;opacity:0;pointer-events:none";

/// Pan and zoom: a map point `p` shows at `p * scale + (x, y)` in the viewport.
#[derive(Debug, Clone, Copy, PartialEq)]
struct View {
    x: f64,
    y: f64,
    scale: f64,
}

/// What a pointer press on the viewport is doing.
#[derive(Debug, Clone, PartialEq)]
enum Gesture {
    Pan {
        start: (f64, f64),
        origin: View,
    },
    Press {
        node: String,
        start: (f64, f64),
    },
    Drag {
        node: String,
        over: Option<Drop>,
    },
    /// Two fingers: their distance zooms, their midpoint pans (viewport coordinates).
    Pinch {
        distance: f64,
        mid: (f64, f64),
        origin: View,
    },
}

/// Where a dragged node would land.
#[derive(Debug, Clone, PartialEq)]
enum Drop {
    Child(String),
    Before(String),
    After(String),
}

#[component]
pub fn MindMap(session: Rc<Session>, facilitator: bool) -> impl IntoView {
    let i18n = use_i18n();
    let shared_session = crate::session::session_ref(session.clone());
    let nodes = session.signals.nodes;
    let reactions = session.signals.reactions;
    let peers = session.signals.peers;
    let participants = session.signals.participants;
    let layout_memo = Memo::new(move |_| nodes.with(|n| layout(n)));
    let selected = RwSignal::new(Some(CENTRAL_NODE_ID.to_owned()));
    let editing = RwSignal::new(None::<String>);
    let fresh = StoredValue::new(None::<String>);
    let view = RwSignal::new(View {
        x: 0.0,
        y: 0.0,
        scale: 1.0,
    });
    let gesture = StoredValue::new(None::<Gesture>);
    let drop_target = RwSignal::new(None::<Drop>);
    // Each node asks whether it is the selected one or the drop target: through a selector,
    // so a change notifies the two nodes concerned, not every node (with 2,000 nodes, every
    // node re-subscribing to one signal took seconds).
    let selected_node = Selector::new(move || selected.get());
    let drop_node = Selector::new(move || match drop_target.get() {
        Some(Drop::Child(target)) => Some(target),
        _ => None,
    });
    let viewport = NodeRef::<html::Div>::new();
    // Where this page looks, for those who follow it: the map point at the centre of the
    // screen and the zoom (screens of other sizes centre on the same place).
    let following = session.signals.following;
    let viewport_size = move || {
        viewport
            .get_untracked()
            .map(|el| (f64::from(el.client_width()), f64::from(el.client_height())))
    };
    {
        let session = session.clone();
        Effect::new(move |_| {
            let v = view.get();
            if let Some((width, height)) = viewport_size() {
                session.set_view(crate::session::View {
                    center_x: (width / 2.0 - v.x) / v.scale,
                    center_y: (height / 2.0 - v.y) / v.scale,
                    scale: v.scale,
                });
            }
        });
    }
    // Following somebody (by choice, or summoned by the facilitator): their view becomes this
    // page's, until this page pans or zooms by itself.
    Effect::new(move |_| {
        let Some(leader) = following.get() else {
            return;
        };
        let theirs = peers.with(|p| {
            p.iter()
                .find(|p| p.client_id == leader)
                .and_then(|p| p.view)
        });
        if let (Some(t), Some((width, height))) = (theirs, viewport_size()) {
            let theirs = View {
                x: width / 2.0 - t.center_x * t.scale,
                y: height / 2.0 - t.center_y * t.scale,
                scale: t.scale,
            };
            // (Peers change with every pointer move: the view only when theirs moved.)
            if view.get_untracked() != theirs {
                view.set(theirs);
            }
        }
    });
    let editor = NodeRef::<html::Input>::new();
    let can_edit = session.can_edit;
    // A node the facilitator locked changes only by the facilitator's hand.
    let locked_for_me = move |id: &str| {
        !facilitator && nodes.with_untracked(|n| n.iter().any(|n| n.id == id && n.locked))
    };
    let fitted = StoredValue::new(false);

    {
        let session = session.clone();
        Effect::new(move |_| session.set_selected(selected.get()));
    }
    // Fit the map once it first arrives, then leave the view to the user.
    Effect::new(move |_| {
        let count = layout_memo.with(|l| l.nodes.len());
        if count > 0 && !fitted.get_value() {
            fitted.set_value(true);
            fit(viewport, layout_memo, view);
        }
    });
    // A node being edited that somebody else changes: show their text, keep the caret.
    Effect::new(move |_| {
        let Some(id) = editing.get() else { return };
        let text = nodes.with(|n| n.iter().find(|n| n.id == id).map(|n| n.text.clone()));
        if let (Some(text), Some(input)) = (text, editor.get_untracked())
            && input.value() != text
        {
            let caret = input.selection_start().ok().flatten();
            input.set_value(&text);
            if let Some(caret) = caret {
                let _ = input.set_selection_range(caret, caret);
            }
        }
    });

    // Keep the selected idea in sight, panning as little as needed.
    Effect::new(move |_| {
        let Some(id) = selected.get() else { return };
        let Some(placed) = layout_memo.with(|l| l.get(&id).cloned()) else {
            return;
        };
        let Some(el) = viewport.get_untracked() else {
            return;
        };
        let rect = el.get_bounding_client_rect();
        let v = view.get_untracked();
        let margin = 24.0;
        let left = (placed.x - placed.width / 2.0) * v.scale + v.x;
        let right = (placed.x + placed.width / 2.0) * v.scale + v.x;
        let top = (placed.y - placed.height / 2.0) * v.scale + v.y;
        let bottom = (placed.y + placed.height / 2.0) * v.scale + v.y;
        let dx = if left < margin {
            margin - left
        } else if right > rect.width() - margin {
            rect.width() - margin - right
        } else {
            0.0
        };
        let dy = if top < margin {
            margin - top
        } else if bottom > rect.height() - margin {
            rect.height() - margin - bottom
        } else {
            0.0
        };
        if dx != 0.0 || dy != 0.0 {
            view.set(View {
                x: v.x + dx,
                y: v.y + dy,
                ..v
            });
        }
    });
    let focus_viewport = move || {
        if let Some(el) = viewport.get_untracked() {
            let _ = el.focus();
        }
    };
    let start_editing = {
        move |id: String, replace_with: Option<String>| {
            if !can_edit || locked_for_me(&id) {
                return;
            }
            let text = replace_with.clone().unwrap_or_else(|| {
                nodes.with_untracked(|n| {
                    n.iter()
                        .find(|n| n.id == id)
                        .map(|n| n.text.clone())
                        .unwrap_or_default()
                })
            });
            editing.set(Some(id));
            // The editor is always in the page (off-screen when idle), so it takes the focus
            // at once and no keystroke typed right after Tab or Enter is lost.
            if let Some(input) = editor.get_untracked() {
                input.set_value(&text);
                let _ = input.focus();
                if replace_with.is_none() {
                    input.select();
                }
            }
        }
    };
    let apply_text = {
        let session = session.clone();
        move |id: &str, new_text: &str| {
            session.edit(|roots, txn| {
                if let Some(text) = child_text(&roots.nodes, txn, id, "text") {
                    edit_text(txn, &text, new_text);
                }
            });
        }
    };
    let finish_editing = {
        let session = session.clone();
        move || {
            let Some(id) = editing.get_untracked() else {
                return;
            };
            editing.set(None);
            let empty =
                nodes.with_untracked(|n| n.iter().any(|n| n.id == id && n.text.trim().is_empty()));
            if fresh.get_value().as_deref() == Some(id.as_str()) && empty {
                // A new idea left empty was not wanted.
                let parent = parent_of(&nodes.get_untracked(), &id);
                delete_subtree(&session, &nodes.get_untracked(), &id);
                selected.set(parent);
            }
            fresh.set_value(None);
            session.undo_checkpoint();
            focus_viewport();
        }
    };
    let add_node = {
        let session = session.clone();
        move |parent: String, after: Option<String>| {
            if !can_edit {
                return;
            }
            let id = crate::session::new_id();
            let all = nodes.get_untracked();
            let order = new_order(&all, &parent, after.as_deref());
            let pid = session.pid().to_owned();
            session.undo_checkpoint();
            session.create(&id, |roots, txn| {
                expand(&roots.nodes, txn, &parent);
                roots.add_node(txn, &id, Some(&parent), order, "", &pid);
            });
            fresh.set_value(Some(id.clone()));
            selected.set(Some(id.clone()));
            start_editing(id, Some(String::new()));
        }
    };
    let toggle_collapse = {
        let session = session.clone();
        move |id: String| {
            let has_children = layout_memo.with_untracked(|l| {
                l.get(&id).is_some_and(|p| p.hidden_children > 0)
                    || l.nodes
                        .iter()
                        .any(|n| n.parent.as_deref() == Some(id.as_str()))
            });
            if has_children {
                session.edit(|roots, txn| {
                    if let Some(Out::YMap(node)) = roots.nodes.get(txn, &id) {
                        let collapsed = matches!(
                            node.get(txn, "collapsed"),
                            Some(Out::Any(yrs::Any::Bool(true)))
                        );
                        node.insert(txn, "collapsed", !collapsed);
                    }
                });
            }
        }
    };
    let remove = {
        let session = session.clone();
        move |id: String| {
            if !can_edit || id == CENTRAL_NODE_ID {
                return;
            }
            let all = nodes.get_untracked();
            let tree = Tree::resolve(&all);
            if !facilitator && subtree_locked(&all, &tree, &id) {
                let _ = window().alert_with_message(i18n.t(Key::LockedElement));
                return;
            }
            if !tree.children_of(&id).is_empty() {
                let confirmed = window()
                    .confirm_with_message(i18n.t(Key::ConfirmDeleteSubtree))
                    .unwrap_or(false);
                if !confirmed {
                    return;
                }
            }
            let next = parent_of(&all, &id);
            session.undo_checkpoint();
            delete_subtree(&session, &all, &id);
            selected.set(next);
        }
    };

    // Locks or unlocks an idea (the facilitator's `L`, and the idea menu's entry).
    let toggle_lock = {
        let session = session.clone();
        move |id: String| {
            let locked = nodes.with_untracked(|n| n.iter().any(|n| n.id == id && n.locked));
            session.edit(|roots, txn| roots.set_locked(txn, &roots.nodes, &id, !locked));
        }
    };
    let on_keydown = {
        let session = session.clone();
        let apply_text = apply_text.clone();
        let add_node = add_node.clone();
        let toggle_collapse = toggle_collapse.clone();
        let remove = remove.clone();
        let toggle_lock = toggle_lock.clone();
        move |ev: KeyboardEvent| {
            if editing.get_untracked().is_some() {
                return;
            }
            let current = selected
                .get_untracked()
                .unwrap_or_else(|| CENTRAL_NODE_ID.to_owned());
            let ctrl = ev.ctrl_key() || ev.meta_key();
            let key = ev.key();
            let handled = match key.as_str() {
                "Tab" => {
                    add_node(current.clone(), None);
                    true
                }
                "Enter" => {
                    let parent = parent_of(&nodes.get_untracked(), &current);
                    match parent {
                        Some(parent) => add_node(parent, Some(current.clone())),
                        None => add_node(current.clone(), None),
                    }
                    true
                }
                "F2" => {
                    start_editing(current.clone(), None);
                    true
                }
                "Delete" | "Backspace" => {
                    remove(current.clone());
                    true
                }
                " " => {
                    toggle_collapse(current.clone());
                    true
                }
                "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown" => {
                    if let Some(next) = layout_memo.with_untracked(|l| navigate(l, &current, &key))
                    {
                        selected.set(Some(next));
                    }
                    true
                }
                "z" | "Z" if ctrl && ev.shift_key() => {
                    session.redo();
                    true
                }
                "z" | "Z" if ctrl => {
                    session.undo();
                    true
                }
                "y" | "Y" if ctrl => {
                    session.redo();
                    true
                }
                "l" | "L" if facilitator && !ctrl && !ev.alt_key() => {
                    toggle_lock(current.clone());
                    true
                }
                _ if !ctrl && !ev.alt_key() && key.chars().count() == 1 => {
                    // Typing on a selected idea replaces its text, as in the tools people know.
                    if can_edit && !locked_for_me(&current) {
                        start_editing(current.clone(), Some(key.clone()));
                        apply_text(&current, &key);
                    }
                    true
                }
                _ => false,
            };
            if handled {
                ev.prevent_default();
            }
        }
    };

    let on_editor_keydown = {
        let finish_editing = finish_editing.clone();
        let add_node = add_node.clone();
        move |ev: KeyboardEvent| {
            ev.stop_propagation();
            match ev.key().as_str() {
                "Enter" | "Escape" => {
                    ev.prevent_default();
                    finish_editing();
                }
                "Tab" => {
                    ev.prevent_default();
                    let current = editing.get_untracked();
                    finish_editing();
                    if let Some(current) =
                        current.filter(|id| nodes.with_untracked(|n| n.iter().any(|n| &n.id == id)))
                    {
                        add_node(current, None);
                    }
                }
                _ => {}
            }
        }
    };
    let on_editor_input = {
        let apply_text = apply_text.clone();
        move |_| {
            if let (Some(id), Some(input)) = (editing.get_untracked(), editor.get_untracked()) {
                apply_text(&id, &input.value());
            }
        }
    };

    let to_map = move |ev: &PointerEvent| -> Option<(f64, f64)> {
        let rect = viewport.get_untracked()?.get_bounding_client_rect();
        let v = view.get_untracked();
        let sx = f64::from(ev.client_x()) - rect.left();
        let sy = f64::from(ev.client_y()) - rect.top();
        Some(((sx - v.x) / v.scale, (sy - v.y) / v.scale))
    };
    // Touch: the fingers on the map (pointer id, client point), the long press under way, and
    // the last tap (node, time) for double taps.
    let touches = StoredValue::new(Vec::<(i32, (f64, f64))>::new());
    let long_press = StoredValue::new_local(None::<TimeoutHandle>);
    let last_tap = StoredValue::new(None::<(String, f64)>);
    let menu = RwSignal::new(None::<String>);
    let cancel_long_press = move || {
        if let Some(handle) = long_press.try_update_value(Option::take).flatten() {
            handle.clear();
        }
    };
    // The two fingers' distance and midpoint, in viewport coordinates.
    let pinch_of = move || -> Option<(f64, (f64, f64))> {
        let rect = viewport.get_untracked()?.get_bounding_client_rect();
        touches.with_value(|t| match t.as_slice() {
            [(_, a), (_, b), ..] => Some((
                (a.0 - b.0).hypot(a.1 - b.1).max(1.0),
                (
                    (a.0 + b.0) / 2.0 - rect.left(),
                    (a.1 + b.1) / 2.0 - rect.top(),
                ),
            )),
            _ => None,
        })
    };
    let on_pointerdown = move |ev: PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        // One gesture of one's own leaves the view one was following.
        following.set(None);
        let target_node = node_id_of_target(&ev);
        let point = (f64::from(ev.client_x()), f64::from(ev.client_y()));
        menu.set(None);
        if ev.pointer_type() == "touch" {
            let id = ev.pointer_id();
            touches.update_value(|t| {
                t.retain(|(other, _)| *other != id);
                t.push((id, point));
            });
            if touches.with_value(Vec::len) >= 2 {
                // A second finger: whatever the first began becomes a pinch.
                cancel_long_press();
                drop_target.set(None);
                if let Some((distance, mid)) = pinch_of() {
                    gesture.set_value(Some(Gesture::Pinch {
                        distance,
                        mid,
                        origin: view.get_untracked(),
                    }));
                }
                return;
            }
            if let Some(node) = target_node.clone() {
                // Held still long enough, the finger opens the idea's menu.
                let handle = set_timeout_with_handle(
                    move || {
                        long_press.set_value(None);
                        if matches!(gesture.get_value(), Some(Gesture::Press { node: ref n, .. }) if *n == node)
                        {
                            gesture.set_value(None);
                            selected.set(Some(node.clone()));
                            menu.set(Some(node.clone()));
                        }
                    },
                    std::time::Duration::from_millis(LONG_PRESS_MS),
                );
                cancel_long_press();
                long_press.set_value(handle.ok());
            }
        }
        match target_node {
            Some(node) => {
                selected.set(Some(node.clone()));
                gesture.set_value(Some(Gesture::Press { node, start: point }));
            }
            None => {
                // The map keeps the finger or mouse that pans it, even over the panels around.
                if let Some(el) = viewport.get_untracked() {
                    let _ = el.set_pointer_capture(ev.pointer_id());
                }
                gesture.set_value(Some(Gesture::Pan {
                    start: point,
                    origin: view.get_untracked(),
                }));
            }
        }
        if editing.get_untracked().is_none() {
            focus_viewport();
        }
    };
    let on_pointermove = {
        let session = session.clone();
        move |ev: PointerEvent| {
            let map_point = to_map(&ev);
            session.set_pointer(map_point);
            let point = (f64::from(ev.client_x()), f64::from(ev.client_y()));
            if ev.pointer_type() == "touch" {
                let id = ev.pointer_id();
                touches.update_value(|t| {
                    if let Some(entry) = t.iter_mut().find(|(other, _)| *other == id) {
                        entry.1 = point;
                    }
                });
            }
            let Some(current) = gesture.get_value() else {
                return;
            };
            match current {
                Gesture::Pinch {
                    distance,
                    mid,
                    origin,
                } => {
                    if let Some((now_distance, now_mid)) = pinch_of() {
                        let scale =
                            (origin.scale * now_distance / distance).clamp(ZOOM_MIN, ZOOM_MAX);
                        // The map point under the fingers' first midpoint stays under them.
                        let (mx, my) = (
                            (mid.0 - origin.x) / origin.scale,
                            (mid.1 - origin.y) / origin.scale,
                        );
                        view.set(View {
                            x: now_mid.0 - mx * scale,
                            y: now_mid.1 - my * scale,
                            scale,
                        });
                    }
                }
                Gesture::Pan { start, origin } => {
                    view.set(View {
                        x: origin.x + point.0 - start.0,
                        y: origin.y + point.1 - start.1,
                        ..origin
                    });
                }
                Gesture::Press { node, start } => {
                    let moved = (point.0 - start.0).hypot(point.1 - start.1);
                    if moved > DRAG_THRESHOLD_PX {
                        cancel_long_press();
                    }
                    if moved > DRAG_THRESHOLD_PX
                        && can_edit
                        && node != CENTRAL_NODE_ID
                        && !locked_for_me(&node)
                    {
                        gesture.set_value(Some(Gesture::Drag { node, over: None }));
                    }
                }
                Gesture::Drag { node, .. } => {
                    let over = map_point.and_then(|p| {
                        layout_memo.with_untracked(|l| drop_at(l, &nodes.get_untracked(), &node, p))
                    });
                    drop_target.set(over.clone());
                    gesture.set_value(Some(Gesture::Drag { node, over }));
                }
            }
        }
    };
    let on_pointerup = {
        let session = session.clone();
        move |ev: PointerEvent| {
            cancel_long_press();
            if ev.pointer_type() == "touch" {
                let id = ev.pointer_id();
                touches.update_value(|t| t.retain(|(other, _)| *other != id));
                if matches!(gesture.get_value(), Some(Gesture::Pinch { .. })) {
                    // The pinch ends with its last finger; the one left does nothing.
                    if touches.with_value(Vec::is_empty) {
                        gesture.set_value(None);
                    }
                    return;
                }
                // A tap on an idea right after another on the same idea edits it.
                if let Some(Gesture::Press { node, .. }) = gesture.get_value() {
                    let now = js_sys::Date::now();
                    let again = last_tap
                        .get_value()
                        .is_some_and(|(last, at)| last == node && now - at < DOUBLE_TAP_MS);
                    if again {
                        last_tap.set_value(None);
                        gesture.set_value(None);
                        if can_edit && !locked_for_me(&node) {
                            start_editing(node, None);
                        }
                        return;
                    }
                    last_tap.set_value(Some((node, now)));
                }
            }
            if let Some(Gesture::Drag {
                node,
                over: Some(target),
            }) = gesture.get_value()
            {
                let all = nodes.get_untracked();
                let (parent, order) = match &target {
                    Drop::Child(parent) => (parent.clone(), new_order(&all, parent, None)),
                    Drop::Before(sibling) | Drop::After(sibling) => {
                        let parent =
                            parent_of(&all, sibling).unwrap_or_else(|| CENTRAL_NODE_ID.to_owned());
                        let order = match &target {
                            Drop::Before(s) => order_before(&all, &parent, s),
                            _ => new_order(&all, &parent, Some(sibling)),
                        };
                        (parent, order)
                    }
                };
                session.undo_checkpoint();
                session.edit(|roots, txn| {
                    if let Some(Out::YMap(map)) = roots.nodes.get(txn, &node) {
                        map.insert(txn, "parent", parent.as_str());
                        map.insert(txn, "order", order);
                    }
                });
            }
            gesture.set_value(None);
            drop_target.set(None);
        }
    };
    let on_pointerleave = {
        let session = session.clone();
        move |_ev: PointerEvent| session.set_pointer(None)
    };
    let on_wheel = move |ev: WheelEvent| {
        ev.prevent_default();
        following.set(None);
        let Some(el) = viewport.get_untracked() else {
            return;
        };
        let rect = el.get_bounding_client_rect();
        let (sx, sy) = (
            f64::from(ev.client_x()) - rect.left(),
            f64::from(ev.client_y()) - rect.top(),
        );
        let factor = (-ev.delta_y() * 0.0015).exp();
        view.update(|v| zoom_around(v, factor, sx, sy));
    };
    let on_dblclick = move |ev: web_sys::MouseEvent| {
        if let Some(id) = ev.target().and_then(|t| node_id_of(&t)) {
            start_editing(id, None);
        }
    };

    let zoom_button = move |factor: f64| {
        move |_| {
            following.set(None);
            if let Some(el) = viewport.get_untracked() {
                let rect = el.get_bounding_client_rect();
                view.update(|v| zoom_around(v, factor, rect.width() / 2.0, rect.height() / 2.0));
            }
        }
    };
    let add_child_button = {
        let add_node = add_node.clone();
        move |_| {
            add_node(
                selected
                    .get_untracked()
                    .unwrap_or_else(|| CENTRAL_NODE_ID.to_owned()),
                None,
            )
        }
    };
    let add_sibling_button = {
        let add_node = add_node.clone();
        move |_| {
            let current = selected
                .get_untracked()
                .unwrap_or_else(|| CENTRAL_NODE_ID.to_owned());
            match parent_of(&nodes.get_untracked(), &current) {
                Some(parent) => add_node(parent, Some(current)),
                None => add_node(current, None),
            }
        }
    };
    let delete_button = {
        let remove = remove.clone();
        move |_| {
            if let Some(id) = selected.get_untracked() {
                remove(id);
            }
        }
    };
    let (undo_session, redo_session) = (session.clone(), session.clone());
    // An idea's menu, opened by a long press (or a right click): what a keyboard does with
    // Tab, Enter, F2, Delete and L, for a finger.
    let node_menu = {
        // The session is not `Send`: the actions stay in a local store the view reaches.
        let actions = StoredValue::new_local((
            add_child_button.clone(),
            add_sibling_button.clone(),
            delete_button.clone(),
            start_editing,
            toggle_lock,
        ));
        move || {
            let id = menu.get()?;
            let style = {
                let id = id.clone();
                move || {
                    let v = view.get();
                    // Below the idea, kept inside the viewport (above the idea when there is
                    // no room below).
                    let (width, height) = viewport.get_untracked().map_or((0.0, 0.0), |el| {
                        (f64::from(el.client_width()), f64::from(el.client_height()))
                    });
                    layout_memo.with(|l| {
                        l.get(&id).map(|p| {
                            let left = (p.x - p.width / 2.0) * v.scale + v.x;
                            let below = (p.y + p.height / 2.0) * v.scale + v.y + 6.0;
                            let above =
                                (p.y - p.height / 2.0) * v.scale + v.y - 6.0 - NODE_MENU_HEIGHT_PX;
                            let top = if below + NODE_MENU_HEIGHT_PX > height {
                                above
                            } else {
                                below
                            };
                            format!(
                                "left:{}px;top:{}px",
                                Fixed(left.clamp(4.0, (width - NODE_MENU_WIDTH_PX - 4.0).max(4.0))),
                                Fixed(
                                    top.clamp(4.0, (height - NODE_MENU_HEIGHT_PX - 4.0).max(4.0))
                                )
                            )
                        })
                    })
                }
            };
            let locked = nodes.with_untracked(|n| n.iter().any(|n| n.id == id && n.locked));
            let changeable = can_edit && !locked_for_me(&id);
            let (edit_id, lock_id) = (id.clone(), id.clone());
            Some(view! {
                <div class="node-menu" role="menu" aria-label=i18n.live(Key::IdeaMenu) style=style
                    on:pointerdown=|ev: PointerEvent| ev.stop_propagation()>
                    {changeable.then(|| view! {
                        <button role="menuitem" data-action="edit" on:click=move |_| { menu.set(None); actions.with_value(|a| (a.3)(edit_id.clone(), None)) }>{i18n.live(Key::MenuEdit)}</button>
                    })}
                    {can_edit.then(|| view! {
                        <button role="menuitem" data-action="add-child" on:click=move |ev| { menu.set(None); actions.with_value(|a| (a.0)(ev)) }>{i18n.live(Key::MenuAddChild)}</button>
                        <button role="menuitem" data-action="add-sibling" on:click=move |ev| { menu.set(None); actions.with_value(|a| (a.1)(ev)) }>{i18n.live(Key::MenuAddSibling)}</button>
                    })}
                    {(changeable && id != CENTRAL_NODE_ID).then(|| view! {
                        <button role="menuitem" data-action="delete" on:click=move |ev| { menu.set(None); actions.with_value(|a| (a.2)(ev)) }>{i18n.live(Key::MenuDelete)}</button>
                    })}
                    {can_edit.then(|| view! { <crate::reactions::ReactionPicker session=shared_session element=id.clone() /> })}
                    {(can_edit && facilitator).then(|| view! {
                        <button role="menuitem" data-action="lock" on:click=move |_| { menu.set(None); actions.with_value(|a| (a.4)(lock_id.clone())) }>
                            {i18n.live(if locked { Key::Unlock } else { Key::Lock })}
                        </button>
                    })}
                </div>
            })
        }
    };
    let on_contextmenu = move |ev: web_sys::MouseEvent| {
        let Some(id) = ev.target().and_then(|t| node_id_of(&t)) else {
            return;
        };
        ev.prevent_default();
        gesture.set_value(None);
        selected.set(Some(id.clone()));
        menu.set(Some(id));
    };
    let on_pointercancel = move |ev: PointerEvent| {
        cancel_long_press();
        let id = ev.pointer_id();
        touches.update_value(|t| t.retain(|(other, _)| *other != id));
        gesture.set_value(None);
        drop_target.set(None);
    };

    let author_label = move |pid: &str, on_behalf_of: Option<&shared::proxy::Represented>| {
        participants.with(|p| credit(p, pid, on_behalf_of, i18n.t(Key::EnteredBy)))
    };
    // One element per node for the node's whole life, keyed by its id: a change of text,
    // place or size updates that element's attributes in place, and a node that did not
    // change is not touched. The scene holds a signal per node and per edge, set only when
    // what it shows changed.
    // Each side of the central topic is a container placed at the topic's edge, its nodes and
    // edges placed relative to it: when the central topic widens, two containers move and no
    // node or edge changes (see `Scene`).
    let scene = StoredValue::new_local(Scene::default());
    let node_ids: [RwSignal<Vec<String>>; 3] = std::array::from_fn(|_| RwSignal::new(Vec::new()));
    let edge_ids: [RwSignal<Vec<String>>; 2] = std::array::from_fn(|_| RwSignal::new(Vec::new()));
    let half_width = RwSignal::new(0.0_f64);
    Effect::new(move |_| {
        nodes.with(|n| {
            layout_memo.with(|l| {
                scene.update_value(|scene| {
                    // The lists change when nodes come, go or move in the tree: they are
                    // copied only then.
                    let frame = scene.update(n, l);
                    let lists = node_ids
                        .into_iter()
                        .zip(frame.nodes)
                        .chain(edge_ids.into_iter().zip(frame.edges));
                    for (list, now) in lists {
                        if !list.with_untracked(|v| v.iter().eq(now.iter())) {
                            list.set(now.into_iter().map(str::to_owned).collect());
                        }
                    }
                    if half_width.get_untracked() != frame.half_width {
                        half_width.set(frame.half_width);
                    }
                })
            })
        })
    });
    // The presenter view (see `board::Presenting`) zooms the map for the projector when it
    // opens, and once more when the first nodes arrive.
    if let Some(crate::board::Presenting(presenting)) = use_context() {
        Effect::new(move |was: Option<(bool, bool)>| {
            let now = (presenting.get(), layout_memo.with(|l| l.nodes.len() > 1));
            if now.0 && was != Some(now) {
                request_animation_frame(move || present(viewport, layout_memo, view));
            }
            now
        });
    }
    let side_style = move |direction: f64| {
        move || {
            format!(
                "transform:translateX({}px)",
                Fixed(direction * half_width.get())
            )
        }
    };
    let node_view = move |id: String| {
        let shown = scene.with_value(|s| s.nodes.get(&id).cloned())?;
        let is_selected = {
            let (key, selected_node) = (Some(id.clone()), selected_node.clone());
            move || selected_node.selected(&key)
        };
        let is_drop = {
            let (key, drop_node) = (Some(id.clone()), drop_node.clone());
            move || drop_node.selected(&key)
        };
        let s = shown.clone();
        let text = move || {
            s.with(|s| {
                if s.text.is_empty() {
                    i18n.t(Key::NewIdea).to_owned()
                } else {
                    s.text.clone()
                }
            })
        };
        let (s, text_for_label) = (shown.clone(), text.clone());
        let label = move || {
            let (hidden, locked) = s.with(|s| (s.placed.hidden_children, s.locked));
            let mut label = text_for_label();
            if hidden > 0 {
                label = format!("{label} ({hidden} {})", i18n.t(Key::ChildrenHidden));
            }
            if locked {
                label = format!("{label} ({})", i18n.t(Key::Locked));
            }
            label
        };
        let s = shown.clone();
        let title = move || {
            let author = s.with(|s| author_label(&s.author, s.on_behalf_of.as_ref()));
            if author.is_empty() {
                String::new()
            } else {
                format!("{} {author}", i18n.t(Key::By))
            }
        };
        let s = shown.clone();
        let class = move || match s.with(|s| s.placed.side) {
            Side::Center => "node central",
            Side::Left => "node left",
            Side::Right => "node right",
        };
        let s = shown.clone();
        let style = move || {
            s.with(|s| {
                let p = &s.placed;
                format!(
                    "transform:translate({}px,{}px);width:{}px;min-height:{}px;--branch:{}",
                    Fixed(p.x - p.width / 2.0),
                    Fixed(p.y - p.height / 2.0),
                    Fixed(p.width),
                    Fixed(p.height),
                    p.color
                )
            })
        };
        let s = shown.clone();
        let expanded = move || {
            s.with(|s| {
                if s.placed.hidden_children > 0 {
                    Some("false")
                } else {
                    s.has_children.then_some("true")
                }
            })
        };
        let s = shown.clone();
        let hidden = move || s.with(|s| s.placed.hidden_children);
        let s = shown.clone();
        let locked = move || s.with(|s| s.locked);
        let locked_mark = locked.clone();
        let s = shown.clone();
        let empty = move || s.with(|s| s.text.is_empty());
        let s = shown.clone();
        let author_pid = move || s.with(|s| s.author.clone());
        let s = shown.clone();
        let level = move || s.with(|s| (s.placed.depth + 1).to_string());
        // The reactions given, beside the idea (outside its box: the layout does not move).
        let reacted = {
            let id = id.clone();
            Memo::new(move |_| {
                reactions.with(|r| {
                    r.get(&id)
                        .filter(|t| !t.is_empty())
                        .map(shared::reactions::Tally::summary)
                })
            })
        };
        Some(view! {
            <div
                class=class
                class:selected=is_selected.clone()
                class:drop-target=is_drop
                class:empty=empty
                class:locked=locked.clone()
                id=format!("node-{id}")
                data-node=id.clone()
                data-author=author_pid
                role="treeitem"
                prop:ariaLevel=level
                aria-selected=move || if is_selected() { "true" } else { "false" }
                aria-expanded=expanded
                aria-label=label
                title=crate::history::trace_title_or(id.clone(), title)
                style=style
            >
                <span class="node-text">{text}</span>
                {move || (hidden() > 0).then(|| view! { <span class="badge">{hidden()}</span> })}
                {move || locked_mark().then(|| view! { <span class="lock" aria-hidden="true">"🔒"</span> })}
                {move || reacted.get().map(|text| view! { <span class="node-reactions">{text}</span> })}
            </div>
        })
    };
    let edge_view = move |id: String| {
        let edge = scene.with_value(|s| s.edges.get(&id).cloned())?;
        let (d, stroke) = (edge.clone(), edge);
        Some(view! {
            <path d=move || d.with(EdgeShown::d) stroke=move || stroke.with(|e| e.color.clone()) />
        })
    };
    let editor_style = move || {
        let id = editing.get()?;
        layout_memo.with(|l| {
            l.get(&id).map(|p| {
                format!(
                    "left:{}px;top:{}px;width:{}px;height:{}px",
                    Fixed(p.x - p.width.max(160.0) / 2.0),
                    Fixed(p.y - p.height / 2.0),
                    Fixed(p.width.max(160.0)),
                    Fixed(p.height)
                )
            })
        })
    };
    let others_selection = move || {
        let l = layout_memo.get();
        peers
            .get()
            .into_iter()
            .filter(|p| !p.is_self)
            .filter_map(|peer| {
                let placed = l.get(peer.selected.as_deref()?)?.clone();
                let style = format!(
                    "left:{}px;top:{}px;width:{}px;height:{}px;--peer:{}",
                    Fixed(placed.x - placed.width / 2.0 - 4.0),
                    Fixed(placed.y - placed.height / 2.0 - 4.0),
                    Fixed(placed.width + 8.0),
                    Fixed(placed.height + 8.0),
                    peer.color
                );
                Some(view! { <div class="peer-selection" style=style><span class="peer-tag">{peer.name}</span></div> })
            })
            .collect::<Vec<_>>()
    };
    let others_pointers = move || {
        peers
            .get()
            .into_iter()
            .filter(|p| !p.is_self)
            .filter_map(|peer| {
                let (x, y) = peer.pointer?;
                let style = format!("left:{}px;top:{}px;--peer:{}", Fixed(x), Fixed(y), peer.color);
                Some(view! { <div class="peer-pointer" style=style aria-hidden="true"><span>{peer.name}</span></div> })
            })
            .collect::<Vec<_>>()
    };
    let canvas_style = move || {
        let v = view.get();
        format!(
            "transform:translate({}px,{}px) scale({})",
            Fixed(v.x),
            Fixed(v.y),
            Fixed(v.scale)
        )
    };
    let active_descendant = move || selected.get().map(|id| format!("node-{id}"));
    // A tool's key, beside its name; hidden on touch screens, which have no such key.
    let key_hint =
        move |key: Key| view! { <span class="key-hint">" ("<kbd>{i18n.live(key)}</kbd>")"</span> };

    view! {
        <div class="mindmap">
            <div class="toolbar" role="toolbar" aria-label=i18n.live(Key::MapLabel)>
                {can_edit.then(|| view! {
                    <button on:click=add_child_button>{i18n.live(Key::AddChild)}{key_hint(Key::AddChildKey)}</button>
                    <button on:click=add_sibling_button>{i18n.live(Key::AddSibling)}{key_hint(Key::AddSiblingKey)}</button>
                    <button on:click=delete_button>{i18n.live(Key::DeleteNode)}{key_hint(Key::DeleteNodeKey)}</button>
                    <button on:click=move |_| undo_session.undo()>{i18n.live(Key::Undo)}{key_hint(Key::UndoKey)}</button>
                    <button on:click=move |_| redo_session.redo()>{i18n.live(Key::Redo)}{key_hint(Key::RedoKey)}</button>
                })}
                <button on:click=zoom_button(1.25) aria-label=i18n.live(Key::ZoomIn)>"+"</button>
                <button on:click=zoom_button(0.8) aria-label=i18n.live(Key::ZoomOut)>"−"</button>
                <button on:click=move |_| { following.set(None); fit(viewport, layout_memo, view) }>{i18n.live(Key::FitToScreen)}</button>
            </div>
            <div class="map-stage">
            <div
                class="viewport"
                node_ref=viewport
                tabindex="0"
                role="tree"
                aria-label=i18n.live(Key::MapLabel)
                aria-activedescendant=active_descendant
                on:keydown=on_keydown
                on:pointerdown=on_pointerdown
                on:pointermove=on_pointermove
                on:pointerup=on_pointerup
                on:pointercancel=on_pointercancel
                on:contextmenu=on_contextmenu
                on:pointerleave=on_pointerleave
                on:wheel=on_wheel
                on:dblclick=on_dblclick
            >
                <div class="canvas" style=canvas_style>
                    <svg class="edges" aria-hidden="true">
                        <g style=side_style(1.0)>
                            <For each=move || edge_ids[0].get() key=|id| id.clone() children=edge_view />
                        </g>
                        <g style=side_style(-1.0)>
                            <For each=move || edge_ids[1].get() key=|id| id.clone() children=edge_view />
                        </g>
                    </svg>
                    <For each=move || node_ids[0].get() key=|id| id.clone() children=node_view.clone() />
                    <div class="side" style=side_style(1.0)>
                        <For each=move || node_ids[1].get() key=|id| id.clone() children=node_view.clone() />
                    </div>
                    <div class="side" style=side_style(-1.0)>
                        <For each=move || node_ids[2].get() key=|id| id.clone() children=node_view />
                    </div>
                    {others_selection}
                    {others_pointers}
                </div>
            </div>
            // Outside the tree (a tree holds only its items): the editor, in a layer that moves
            // and zooms with the map, and an idea's menu, in viewport coordinates.
            <div class="map-overlay">
                <div class="editor-layer" style=canvas_style>
                    <input
                        class="node-editor"
                        node_ref=editor
                        style=move || editor_style().unwrap_or_else(|| EDITOR_IDLE_STYLE.into())
                        tabindex=move || if editing.get().is_some() { "0" } else { "-1" }
                        aria-label=i18n.live(Key::EditNodeLabel)
                        on:keydown=on_editor_keydown
                        on:input=on_editor_input
                        on:blur=move |_| finish_editing()
                        on:pointerdown=|ev: PointerEvent| ev.stop_propagation()
                    />
                </div>
                {node_menu}
            </div>
            </div>
            <p class="help">{i18n.live(Key::KeyboardHelp)}</p>
        </div>
    }
}

/// The node id a DOM event target belongs to (the target or an ancestor with `data-node`).
fn node_id_of(target: &web_sys::EventTarget) -> Option<String> {
    let element = target.dyn_ref::<web_sys::Element>()?;
    element
        .closest("[data-node]")
        .ok()??
        .get_attribute("data-node")
}

fn node_id_of_target(ev: &PointerEvent) -> Option<String> {
    node_id_of(&ev.target()?)
}

fn expand(nodes: &MapRef, txn: &mut TransactionMut, id: &str) {
    if let Some(Out::YMap(node)) = nodes.get(txn, id)
        && matches!(
            node.get(txn, "collapsed"),
            Some(Out::Any(yrs::Any::Bool(true)))
        )
    {
        node.insert(txn, "collapsed", false);
    }
}

fn parent_of(nodes: &[Node], id: &str) -> Option<String> {
    if id == CENTRAL_NODE_ID {
        return None;
    }
    let tree = Tree::resolve(nodes);
    tree.children
        .iter()
        .find(|(_, kids)| kids.iter().any(|k| k == id))
        .map(|(p, _)| p.clone())
}

/// An order placing a new child of `parent` after `after` (or last).
fn new_order(nodes: &[Node], parent: &str, after: Option<&str>) -> f64 {
    let tree = Tree::resolve(nodes);
    let siblings = tree.children_of(parent);
    let order_of = |id: &str| nodes.iter().find(|n| n.id == id).map_or(0.0, |n| n.order);
    match after.and_then(|a| siblings.iter().position(|s| s == a)) {
        Some(index) => {
            let here = order_of(&siblings[index]);
            match siblings.get(index + 1) {
                Some(next) => (here + order_of(next)) / 2.0,
                None => here + 1.0,
            }
        }
        None => siblings.last().map_or(0.0, |last| order_of(last) + 1.0),
    }
}

fn order_before(nodes: &[Node], parent: &str, before: &str) -> f64 {
    let tree = Tree::resolve(nodes);
    let siblings = tree.children_of(parent);
    let order_of = |id: &str| nodes.iter().find(|n| n.id == id).map_or(0.0, |n| n.order);
    match siblings.iter().position(|s| s == before) {
        Some(0) | None => order_of(before) - 1.0,
        Some(index) => (order_of(&siblings[index - 1]) + order_of(before)) / 2.0,
    }
}

/// Whether `id` or any node below it is locked.
fn subtree_locked(nodes: &[Node], tree: &Tree, id: &str) -> bool {
    let mut stack = vec![id];
    while let Some(current) = stack.pop() {
        if nodes.iter().any(|n| n.id == current && n.locked) {
            return true;
        }
        stack.extend(tree.children_of(current).iter().map(String::as_str));
    }
    false
}

fn delete_subtree(session: &Session, nodes: &[Node], id: &str) {
    let tree = Tree::resolve(nodes);
    let mut doomed = vec![id.to_owned()];
    let mut index = 0;
    while index < doomed.len() {
        doomed.extend(tree.children_of(&doomed[index]).iter().cloned());
        index += 1;
    }
    session.edit(|roots, txn| {
        for id in &doomed {
            roots.nodes.remove(txn, id);
        }
    });
}

/// The node an arrow key moves to.
fn navigate(layout: &Layout, current: &str, key: &str) -> Option<String> {
    let here = layout.get(current)?;
    let children: Vec<&Placed> = layout
        .nodes
        .iter()
        .filter(|n| n.parent.as_deref() == Some(current))
        .collect();
    let towards = |side: Side| -> Option<String> {
        children
            .iter()
            .filter(|c| c.side == side)
            .min_by(|a, b| (a.y - here.y).abs().total_cmp(&(b.y - here.y).abs()))
            .map(|c| c.id.clone())
    };
    match (key, here.side) {
        ("ArrowRight", Side::Left) | ("ArrowLeft", Side::Right) => here.parent.clone(),
        ("ArrowRight", _) => towards(Side::Right),
        ("ArrowLeft", _) => towards(Side::Left),
        ("ArrowUp", _) | ("ArrowDown", _) => {
            let up = key == "ArrowUp";
            // The nearest node above or below on the same side and level.
            layout
                .nodes
                .iter()
                .filter(|n| n.side == here.side && n.depth == here.depth && n.id != here.id)
                .filter(|n| if up { n.y < here.y } else { n.y > here.y })
                .min_by(|a, b| (a.y - here.y).abs().total_cmp(&(b.y - here.y).abs()))
                .map(|n| n.id.clone())
        }
        _ => None,
    }
}

/// Where `dragged` would drop at map point `p`: into a node, or before/after it.
fn drop_at(layout: &Layout, nodes: &[Node], dragged: &str, (x, y): (f64, f64)) -> Option<Drop> {
    let tree = Tree::resolve(nodes);
    let mut forbidden = vec![dragged.to_owned()];
    let mut index = 0;
    while index < forbidden.len() {
        forbidden.extend(tree.children_of(&forbidden[index]).iter().cloned());
        index += 1;
    }
    let target = layout.nodes.iter().find(|n| {
        (x - n.x).abs() <= n.width / 2.0
            && (y - n.y).abs() <= n.height / 2.0
            && !forbidden.contains(&n.id)
    })?;
    let band = target.height / 4.0;
    if target.id != CENTRAL_NODE_ID && y < target.y - band {
        Some(Drop::Before(target.id.clone()))
    } else if target.id != CENTRAL_NODE_ID && y > target.y + band {
        Some(Drop::After(target.id.clone()))
    } else {
        Some(Drop::Child(target.id.clone()))
    }
}

/// A number with three decimals at most, written with integer arithmetic: Rust's float
/// formatting would add its own algorithms (~15 KB) to the WebAssembly.
#[derive(Clone, Copy)]
struct Fixed(f64);

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let thousandths = (self.0 * 1_000.0).round() as i64;
        let sign = if thousandths < 0 { "-" } else { "" };
        let (units, rest) = (thousandths.abs() / 1_000, thousandths.abs() % 1_000);
        if rest == 0 {
            write!(f, "{sign}{units}")
        } else {
            let digits = format!("{rest:03}");
            write!(f, "{sign}{units}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// Where the edge from `parent` to `child` starts and ends: the parent's side to the child's.
fn edge_ends(parent: &Placed, child: &Placed) -> [f64; 4] {
    let direction = if child.side == Side::Left { -1.0 } else { 1.0 };
    [
        parent.x + direction * parent.width / 2.0,
        parent.y,
        child.x - direction * child.width / 2.0,
        child.y,
    ]
}

/// What one node's element shows.
#[derive(Clone, PartialEq)]
struct Shown {
    placed: Placed,
    text: String,
    /// The author's pid.
    author: String,
    /// The person it was entered for, if any.
    on_behalf_of: Option<shared::proxy::Represented>,
    locked: bool,
    has_children: bool,
}

/// What the edge from a node's parent to the node shows.
#[derive(Clone, PartialEq)]
struct EdgeShown {
    ends: [f64; 4],
    color: String,
}

impl EdgeShown {
    /// A curve from the parent's edge to the child's.
    fn d(&self) -> String {
        let [x1, y1, x2, y2] = self.ends;
        let mid = Fixed((x1 + x2) / 2.0);
        let (x1, y1, x2, y2) = (Fixed(x1), Fixed(y1), Fixed(x2), Fixed(y2));
        format!("M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}")
    }
}

impl Shown {
    /// Whether this shows `placed` with `node`'s content, compared without copying them.
    fn shows(&self, placed: &Placed, node: Option<&Node>, has_children: bool) -> bool {
        self.placed == *placed
            && self.has_children == has_children
            && match node {
                Some(n) => {
                    self.text == n.text
                        && self.author == n.author
                        && self.locked == n.locked
                        && self.on_behalf_of == n.on_behalf_of
                }
                None => {
                    self.text.is_empty()
                        && self.author.is_empty()
                        && !self.locked
                        && self.on_behalf_of.is_none()
                }
            }
    }
}

/// The signals behind the map's elements, by node id: an element reads its own signal, so
/// setting one updates one element.
#[derive(Default)]
struct Scene {
    nodes: HashMap<String, ArcRwSignal<Shown>>,
    edges: HashMap<String, ArcRwSignal<EdgeShown>>,
}

/// What `Scene::update` answers: the ids of the nodes (central topic, right side, left side)
/// and of the edges (right, left), in layout order, and half the central topic's width, where
/// each side's container stands.
struct Frame<'l> {
    nodes: [Vec<&'l str>; 3],
    edges: [Vec<&'l str>; 2],
    half_width: f64,
}

impl Scene {
    /// Brings every signal up to date with the document and its layout, setting only those
    /// whose value changed. A node or edge is shown relative to its side's container, which
    /// stands at the central topic's edge: `x` less half the topic's width on the right, plus
    /// it on the left.
    fn update<'l>(&mut self, nodes: &[Node], layout: &'l Layout) -> Frame<'l> {
        let content: HashMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let parents: HashSet<&str> = layout
            .nodes
            .iter()
            .filter_map(|p| p.parent.as_deref())
            .collect();
        let half_width = layout.get(CENTRAL_NODE_ID).map_or(0.0, |c| c.width / 2.0);
        let offset = |side: Side| match side {
            Side::Right => half_width,
            Side::Left => -half_width,
            Side::Center => 0.0,
        };
        let mut frame = Frame {
            nodes: Default::default(),
            edges: Default::default(),
            half_width,
        };
        // Most nodes show what they showed: they are compared in place, and only the others
        // are copied into their signal.
        for absolute in &layout.nodes {
            let mut placed = absolute.clone();
            placed.x -= offset(placed.side);
            let node = content.get(placed.id.as_str()).copied();
            let has_children = parents.contains(placed.id.as_str());
            let unchanged = self.nodes.get(&placed.id).is_some_and(|signal| {
                signal.with_untracked(|shown| shown.shows(&placed, node, has_children))
            });
            let side = match placed.side {
                Side::Center => 0,
                Side::Right => 1,
                Side::Left => 2,
            };
            frame.nodes[side].push(absolute.id.as_str());
            if let Some(parent) = placed.parent.as_deref().and_then(|p| layout.get(p)) {
                let mut ends = edge_ends(parent, absolute);
                ends[0] -= offset(placed.side);
                ends[2] -= offset(placed.side);
                let unchanged = self.edges.get(&placed.id).is_some_and(|signal| {
                    signal.with_untracked(|e| e.ends == ends && e.color == placed.color)
                });
                if !unchanged {
                    let edge = EdgeShown {
                        ends,
                        color: placed.color.clone(),
                    };
                    set_or_insert(&mut self.edges, &placed.id, edge);
                }
                frame.edges[usize::from(placed.side == Side::Left)].push(absolute.id.as_str());
            }
            if !unchanged {
                let shown = Shown {
                    text: node.map(|n| n.text.clone()).unwrap_or_default(),
                    author: node.map(|n| n.author.clone()).unwrap_or_default(),
                    on_behalf_of: node.and_then(|n| n.on_behalf_of.clone()),
                    locked: node.is_some_and(|n| n.locked),
                    has_children,
                    placed,
                };
                set_or_insert(&mut self.nodes, &absolute.id, shown);
            }
        }
        self.nodes.retain(|id, _| layout.get(id).is_some());
        self.edges
            .retain(|id, _| layout.get(id).is_some_and(|p| p.parent.is_some()));
        frame
    }
}

/// Sets `id`'s signal to `value` if it shows something else, or makes it.
fn set_or_insert<T: PartialEq + Send + Sync + 'static>(
    signals: &mut HashMap<String, ArcRwSignal<T>>,
    id: &str,
    value: T,
) {
    match signals.get(id) {
        Some(signal) => {
            if signal.with_untracked(|v| *v != value) {
                signal.set(value);
            }
        }
        None => {
            signals.insert(id.to_owned(), ArcRwSignal::new(value));
        }
    }
}

fn zoom_around(view: &mut View, factor: f64, sx: f64, sy: f64) {
    let scale = (view.scale * factor).clamp(ZOOM_MIN, ZOOM_MAX);
    let applied = scale / view.scale;
    view.x = sx - (sx - view.x) * applied;
    view.y = sy - (sy - view.y) * applied;
    view.scale = scale;
}

/// The projector: the map as large as the screen holds, but never smaller than
/// `PRESENTER_SCALE_MIN` (main branches at 28 px, the central topic at 34 px, readable from the
/// back of a room), centred on the central topic when it does not fit.
fn present(viewport: NodeRef<html::Div>, layout: Memo<Layout>, view: RwSignal<View>) {
    let Some((rect, (x0, y0, x1, y1), fits)) = fitting(viewport, layout) else {
        return;
    };
    let scale = fits.clamp(PRESENTER_SCALE_MIN, ZOOM_MAX);
    let (cx, cy) = if fits >= PRESENTER_SCALE_MIN {
        ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    } else {
        (0.0, 0.0)
    };
    view.set(View {
        x: rect.width() / 2.0 - cx * scale,
        y: rect.height() / 2.0 - cy * scale,
        scale,
    });
}

/// The map's bounds: left, top, right, bottom.
type Bounds = (f64, f64, f64, f64);

/// The viewport's rectangle, the map's bounds, and the scale at which the map fills the
/// viewport within its margins; `None` before either is there.
fn fitting(
    viewport: NodeRef<html::Div>,
    layout: Memo<Layout>,
) -> Option<(web_sys::DomRect, Bounds, f64)> {
    let rect = viewport.get_untracked()?.get_bounding_client_rect();
    let (x0, y0, x1, y1) = layout.with_untracked(|l| l.bounds());
    if x0 > x1 || rect.width() <= 0.0 {
        return None;
    }
    let scale = ((rect.width() - 2.0 * FIT_MARGIN_PX) / (x1 - x0))
        .min((rect.height() - 2.0 * FIT_MARGIN_PX) / (y1 - y0));
    Some((rect, (x0, y0, x1, y1), scale))
}

fn fit(viewport: NodeRef<html::Div>, layout: Memo<Layout>, view: RwSignal<View>) {
    let Some((rect, (x0, y0, x1, y1), fits)) = fitting(viewport, layout) else {
        return;
    };
    let scale = fits.clamp(ZOOM_MIN, 1.0);
    view.set(View {
        x: rect.width() / 2.0 - (x0 + x1) / 2.0 * scale,
        y: rect.height() / 2.0 - (y0 + y1) / 2.0 * scale,
        scale,
    });
}
