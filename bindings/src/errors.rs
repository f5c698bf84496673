//! Turning core errors into JS exceptions (`RangeError` for requests that can
//! never succeed, `Error` with a distinct `name` for the rest).

use js_sys::{Error, RangeError};
use wasm_bindgen::JsValue;

/// A `RangeError` with `message`.
pub(crate) fn range_error(message: &str) -> JsValue {
    RangeError::new(message).into()
}

/// An `Error` whose `name` is `name`.
pub(crate) fn named_error(name: &str, message: &str) -> JsValue {
    let error = Error::new(message);
    error.set_name(name);
    error.into()
}
