//! A request's parameters: a JSON object (POST bodies) or query pairs (the GET actions), read
//! with Go-binding strictness — a value of the wrong JSON type is a bind error
//! ([`ApiError::WrongType`], `InvalidParam.BindError` on the wire), never coerced; a query
//! value is text and is parsed. `null` counts as absent; unknown keys are ignored, as the
//! provider's Go binding ignores them.

use serde_json::{Map, Value};

use crate::common::params::Params;
use crate::error::ApiError;

/// The parameters of one request (or one object nested in it, e.g. a `VodSrcAddrs` item).
#[derive(Clone, Debug)]
pub enum Input {
    Json(Map<String, Value>),
    Query(Vec<(String, String)>),
}

/// A value as received.
enum Raw<'a> {
    Json(&'a Value),
    Text(&'a str),
}

impl Input {
    /// A JSON body. Empty means no parameters; anything but an object is a bind error.
    pub fn from_json(body: &[u8]) -> Result<Input, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input::Json(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Input::Json(map)),
            Ok(_) => Err(ApiError::WrongType {
                name: "the body".into(),
                expected: "a JSON object",
            }),
            Err(e) => Err(ApiError::MalformedRequest(format!(
                "the body is not JSON ({e})"
            ))),
        }
    }

    /// The query parameters other than `Action` and `Version`.
    pub fn from_query(params: &Params) -> Input {
        Input::Query(
            params
                .iter()
                .filter(|(k, _)| *k != "Action" && *k != "Version")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn raw(&self, name: &str) -> Option<Raw<'_>> {
        match self {
            Input::Json(map) => map.get(name).filter(|v| !v.is_null()).map(Raw::Json),
            Input::Query(pairs) => pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| Raw::Text(v.as_str())),
        }
    }

    /// Whether the parameter is present (and not `null`).
    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// An optional string, as sent (an empty string is `Some("")`).
    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Raw::Text(t)) => Ok(Some(t.to_string())),
            Some(Raw::Json(Value::String(s))) => Ok(Some(s.clone())),
            Some(Raw::Json(_)) => Err(wrong(name, "a string")),
        }
    }

    /// A non-empty string, or `None` when absent or empty.
    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        Ok(self.string(name)?.filter(|s| !s.is_empty()))
    }

    /// A required non-empty string.
    pub fn required_text(&self, name: &str) -> Result<String, ApiError> {
        self.text(name)?
            .ok_or_else(|| ApiError::MissingParameter(name.to_string()))
    }

    /// An optional integer within `min..=max`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let n = match self.raw(name) {
            None => return Ok(None),
            Some(Raw::Json(v)) => v.as_i64().ok_or_else(|| wrong(name, "an integer"))?,
            Some(Raw::Text(t)) => parse_int(t).ok_or_else(|| wrong(name, "an integer"))?,
        };
        if n < min || n > max {
            return Err(ApiError::invalid(
                name,
                format!("{n} is out of range; valid values are {min} to {max}"),
            ));
        }
        Ok(Some(n))
    }

    /// A required integer within `min..=max`.
    pub fn required_int(&self, name: &str, min: i64, max: i64) -> Result<i64, ApiError> {
        self.int(name, min, max)?
            .ok_or_else(|| ApiError::MissingParameter(name.to_string()))
    }

    /// An optional finite number ≥ 0 (an offset in seconds).
    pub fn seconds(&self, name: &str) -> Result<Option<f64>, ApiError> {
        let x = match self.raw(name) {
            None => return Ok(None),
            Some(Raw::Json(v)) => v.as_f64().ok_or_else(|| wrong(name, "a number"))?,
            Some(Raw::Text(t)) => t
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| wrong(name, "a number"))?,
        };
        check_seconds(name, x)?;
        Ok(Some(x))
    }

    /// An optional array of strings (JSON bodies only).
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        self.array(name, "an array of strings")?
            .map(|items| {
                items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| wrong(name, "an array of strings"))
                    })
                    .collect()
            })
            .transpose()
    }

    /// An optional array of numbers ≥ 0 (offsets in seconds; JSON bodies only).
    pub fn seconds_list(&self, name: &str) -> Result<Option<Vec<f64>>, ApiError> {
        self.array(name, "an array of numbers")?
            .map(|items| {
                items
                    .iter()
                    .map(|v| {
                        let x = v
                            .as_f64()
                            .ok_or_else(|| wrong(name, "an array of numbers"))?;
                        check_seconds(name, x)?;
                        Ok(x)
                    })
                    .collect()
            })
            .transpose()
    }

    /// An optional array of integers (JSON bodies only).
    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, ApiError> {
        self.array(name, "an array of integers")?
            .map(|items| {
                items
                    .iter()
                    .map(|v| {
                        v.as_i64()
                            .ok_or_else(|| wrong(name, "an array of integers"))
                    })
                    .collect()
            })
            .transpose()
    }

    /// An optional array of objects, each as an [`Input`] (JSON bodies only).
    pub fn objects(&self, name: &str) -> Result<Option<Vec<Input>>, ApiError> {
        self.array(name, "an array of objects")?
            .map(|items| {
                items
                    .iter()
                    .map(|v| match v {
                        Value::Object(map) => Ok(Input::Json(map.clone())),
                        _ => Err(wrong(name, "an array of objects")),
                    })
                    .collect()
            })
            .transpose()
    }

    fn array(&self, name: &str, expected: &'static str) -> Result<Option<&Vec<Value>>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Raw::Json(Value::Array(items))) => Ok(Some(items)),
            Some(_) => Err(wrong(name, expected)),
        }
    }
}

fn wrong(name: &str, expected: &'static str) -> ApiError {
    ApiError::WrongType {
        name: name.to_string(),
        expected,
    }
}

fn check_seconds(name: &str, x: f64) -> Result<(), ApiError> {
    if !x.is_finite() || x < 0.0 || x > f64::from(u32::MAX) {
        return Err(ApiError::invalid(
            name,
            format!("{x} is not an offset in seconds (0 or more)"),
        ));
    }
    Ok(())
}

/// A strict decimal integer: optional `-`, digits only.
fn parse_int(v: &str) -> Option<i64> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Input {
        Input::from_json(s.as_bytes()).unwrap()
    }

    #[test]
    fn json_types_are_not_coerced() {
        let i = json(r#"{"a":1,"b":"1","c":1.5,"d":null,"e":["x"],"f":[1,"y"],"g":-1}"#);
        assert_eq!(i.int("a", 0, 9).unwrap(), Some(1));
        assert!(matches!(i.int("b", 0, 9), Err(ApiError::WrongType { .. })));
        assert!(matches!(i.int("c", 0, 9), Err(ApiError::WrongType { .. })));
        assert_eq!(i.int("d", 0, 9).unwrap(), None);
        assert!(!i.has("d"));
        assert!(matches!(i.string("a"), Err(ApiError::WrongType { .. })));
        assert_eq!(i.strings("e").unwrap(), Some(vec!["x".to_string()]));
        assert!(matches!(i.strings("f"), Err(ApiError::WrongType { .. })));
        assert!(matches!(
            i.int("g", 0, 9),
            Err(ApiError::InvalidParameter { .. })
        ));
        assert_eq!(i.seconds("c").unwrap(), Some(1.5));
        assert!(i.seconds("g").is_err());
    }

    #[test]
    fn bodies_must_be_objects() {
        assert!(matches!(json("  ").text("x"), Ok(None)));
        assert!(matches!(
            Input::from_json(b"[1]"),
            Err(ApiError::WrongType { .. })
        ));
        assert!(matches!(
            Input::from_json(b"{\"a\":"),
            Err(ApiError::MalformedRequest(_))
        ));
    }

    #[test]
    fn query_values_are_parsed() {
        let p = Params::from_query("Action=X&Version=V&Page=2&Size=x&Title=doc").unwrap();
        let i = Input::from_query(&p);
        assert_eq!(i.int("Page", 1, 9).unwrap(), Some(2));
        assert!(matches!(
            i.int("Size", 1, 9),
            Err(ApiError::WrongType { .. })
        ));
        assert_eq!(i.text("Title").unwrap().as_deref(), Some("doc"));
        assert!(!i.has("Action"));
        assert!(matches!(
            i.strings("Title"),
            Err(ApiError::WrongType { .. })
        ));
    }
}
