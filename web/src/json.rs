//! JSON through the browser's own `JSON` object: reading and writing the few shapes the app
//! exchanges (API answers, awareness states, what localStorage keeps) without a JSON library
//! compiled into the WebAssembly, which keeps the bundle within its budget.

use js_sys::{Array, JSON, Object, Reflect};
use wasm_bindgen::JsValue;

/// A parsed JSON value; reading a missing field or a value of another type gives a default.
pub struct Json(JsValue);

impl Json {
    pub fn parse(text: &str) -> Option<Json> {
        JSON::parse(text).ok().filter(|v| v.is_object()).map(Json)
    }

    pub fn get(&self, key: &str) -> Json {
        Json(Reflect::get(&self.0, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED))
    }

    /// The string, or "" for anything else.
    pub fn str(&self) -> String {
        self.0.as_string().unwrap_or_default()
    }

    pub fn opt_str(&self) -> Option<String> {
        self.0.as_string()
    }

    /// True only for JSON `true`.
    pub fn bool(&self) -> bool {
        self.0.as_bool().unwrap_or(false)
    }

    pub fn num(&self) -> Option<f64> {
        self.0.as_f64()
    }

    /// A whole number of at least 0; anything else reads as 0.
    pub fn count(&self) -> u64 {
        self.num().filter(|n| *n >= 0.0).map_or(0, |n| n as u64)
    }

    pub fn items(&self) -> Vec<Json> {
        if Array::is_array(&self.0) {
            Array::from(&self.0).iter().map(Json).collect()
        } else {
            Vec::new()
        }
    }
}

/// Builds a JSON object field by field.
pub struct Builder(Object);

impl Builder {
    pub fn new() -> Self {
        Builder(Object::new())
    }

    pub fn set(self, key: &str, value: impl Into<JsValue>) -> Self {
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), &value.into());
        self
    }

    /// Sets `key` only when `when` holds.
    pub fn set_if(self, when: bool, key: &str, value: impl Into<JsValue>) -> Self {
        if when { self.set(key, value) } else { self }
    }

    pub fn object(self, key: &str, value: Builder) -> Self {
        self.set(key, JsValue::from(value.0))
    }

    pub fn value(self) -> JsValue {
        self.0.into()
    }

    pub fn text(self) -> String {
        JSON::stringify(&self.0)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }
}

/// A JSON array of the values of `items`.
pub fn array(items: impl IntoIterator<Item = JsValue>) -> JsValue {
    items.into_iter().collect::<Array>().into()
}

/// The text of a JSON value (an array built with [`array`], say).
pub fn stringify(value: &JsValue) -> String {
    JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}
