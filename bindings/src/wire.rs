//! The names of everything that crosses the boundary: the codes the raw
//! classes answer with, the layout of the arrays they fill, the policy
//! defaults, each handed to JS once as a named value (`wireNames()` and the
//! feature modules' own), so that the JS boundary module (bindings/js/boundary.js)
//! reads them instead of retyping them. A code or field changed here is
//! changed for JS too; nothing is kept in step by hand.

#[allow(unused_imports)]
use crate::prelude::*;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::limiter::{FAILED, MUST_WAIT, WANTS_NOTIFY};

/// Named values as a flat `[name, value, name, value, …]` array, which the
/// JS boundary turns into an object (`fromPairs`): no object building here.
#[cold]
#[inline(never)]
pub(crate) fn named(fields: &[(&str, JsValue)]) -> Array {
    let out = Array::new();
    for (name, value) in fields {
        out.push(&JsValue::from_str(name));
        out.push(value);
    }
    out
}

/// `names` as a JS array of strings (a list, or a layout: the JS boundary
/// turns a layout into `{ name: index, length }`).
#[cfg_attr(not(any(feature = "guard", feature = "fetch")), allow(dead_code))]
#[cold]
#[inline(never)]
pub(crate) fn strings(names: &[&str]) -> Array {
    names.iter().map(|name| JsValue::from_str(name)).collect()
}

/// The codes every limiter class answers with: `mustWait` (admission has
/// to wait; permit ids are always ≥ 1) and `failed` (the request can never
/// be admitted, or a parked wait failed; the error is then `lastError()` /
/// `takeError(ticket)`); `wantsNotify` (`acquireOrPark` parked the wait
/// and needs the JS side's `notify` function: `setNotify`); and `none`,
/// what `RawAsCompleted` answers for "nothing" (no place, no result due,
/// the item waits).
#[wasm_bindgen(js_name = wireNames)]
pub fn wire_names() -> Array {
    named(&[
        ("mustWait", JsValue::from(MUST_WAIT)),
        ("failed", JsValue::from(FAILED)),
        ("wantsNotify", JsValue::from(WANTS_NOTIFY)),
        #[cfg(feature = "as-completed")]
        ("none", JsValue::from(crate::as_completed::NONE)),
    ])
}
