use super::*;
use proptest::prelude::*;

fn obj(props: &[(&str, Amf0Value)]) -> Amf0Value {
    Amf0Value::object(props.iter().cloned())
}

fn roundtrip(v: &Amf0Value) -> Amf0Value {
    let mut out = Vec::new();
    encode(v, &mut out);
    let (back, used) = decode(&out).expect("decodes what it encoded");
    assert_eq!(used, out.len());
    back
}

#[test]
fn scalars_have_the_spec_encoding() {
    let mut out = Vec::new();
    encode(&Amf0Value::Number(1.0), &mut out);
    assert_eq!(out, [0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
    out.clear();
    encode(&Amf0Value::from(true), &mut out);
    assert_eq!(out, [0x01, 0x01]);
    out.clear();
    encode(&Amf0Value::from("ab"), &mut out);
    assert_eq!(out, [0x02, 0x00, 0x02, b'a', b'b']);
    out.clear();
    encode(&Amf0Value::Null, &mut out);
    encode(&Amf0Value::Undefined, &mut out);
    assert_eq!(out, [0x05, 0x06]);
}

#[test]
fn object_round_trips_in_order_with_duplicates() {
    let v = obj(&[
        ("app", "live".into()),
        ("x", 1.0.into()),
        ("x", Amf0Value::Null),
        ("", false.into()),
    ]);
    assert_eq!(roundtrip(&v), v);
    assert_eq!(v.get("x"), Some(&Amf0Value::Number(1.0)));
    assert_eq!(v.get("app").and_then(Amf0Value::as_str), Some("live"));
    assert_eq!(v.get("missing"), None);
}

#[test]
fn every_variant_round_trips() {
    let v = Amf0Value::StrictArray(vec![
        Amf0Value::EcmaArray(vec![("duration".into(), 0.0.into())]),
        Amf0Value::Date {
            millis: 1.7e12,
            time_zone: -60,
        },
        Amf0Value::LongString("long".into()),
        Amf0Value::XmlDocument("<a/>".into()),
        Amf0Value::TypedObject {
            class_name: "flex.Msg".into(),
            properties: vec![("k".into(), Amf0Value::Undefined)],
        },
        Amf0Value::StrictArray(vec![]),
    ]);
    assert_eq!(roundtrip(&v), v);
}

#[test]
fn long_string_is_used_past_65535_bytes() {
    let s = "x".repeat(70_000);
    let mut out = Vec::new();
    encode(&Amf0Value::String(s.clone()), &mut out);
    assert_eq!(out[0], 0x0c);
    assert_eq!(decode(&out).unwrap().0, Amf0Value::LongString(s));
}

#[test]
fn ecma_array_count_is_ignored() {
    // Count says 5, one entry, then the end marker.
    let bytes = [
        0x08, 0, 0, 0, 5, 0, 1, b'a', 0x05, 0, 0, 0x09, //
    ];
    let (v, used) = decode(&bytes).unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(v, Amf0Value::EcmaArray(vec![("a".into(), Amf0Value::Null)]));
}

#[test]
fn ecma_array_without_end_marker_at_end_of_input() {
    let bytes = [0x08, 0, 0, 0, 1, 0, 1, b'a', 0x05];
    let (v, _) = decode(&bytes).unwrap();
    assert_eq!(v, Amf0Value::EcmaArray(vec![("a".into(), Amf0Value::Null)]));
    // An object gets no such leniency.
    assert!(matches!(
        decode(&[0x03, 0, 1, b'a', 0x05]),
        Err(AmfError::Truncated { .. })
    ));
}

#[test]
fn unsupported_marker_reads_as_undefined_and_reserved_markers_fail() {
    assert_eq!(decode(&[0x0d]).unwrap(), (Amf0Value::Undefined, 1));
    assert_eq!(
        decode(&[0x04]),
        Err(AmfError::ReservedMarker {
            marker: 4,
            offset: 0
        })
    );
    assert_eq!(
        decode(&[0x0e]),
        Err(AmfError::ReservedMarker {
            marker: 0x0e,
            offset: 0
        })
    );
    assert_eq!(decode(&[0x05, 0x42]), Ok((Amf0Value::Null, 1)));
    assert_eq!(
        decode_all(&[0x05, 0x42]),
        Err(AmfError::UnknownMarker {
            marker: 0x42,
            offset: 1
        })
    );
    assert_eq!(
        decode(&[0x09]),
        Err(AmfError::UnexpectedObjectEnd { offset: 0 })
    );
}

#[test]
fn strings_are_lossy_utf8() {
    let bytes = [0x02, 0, 3, b'a', 0xff, b'b'];
    assert_eq!(decode(&bytes).unwrap().0.as_str(), Some("a\u{fffd}b"));
}

#[test]
fn references_resolve_to_earlier_objects() {
    // [ {a: 1}, ref 1 ] - the strict array itself is reference 0.
    let mut bytes = vec![0x0a, 0, 0, 0, 2];
    encode(&obj(&[("a", 1.0.into())]), &mut bytes);
    bytes.extend_from_slice(&[0x07, 0, 1]);
    let (v, used) = decode(&bytes).unwrap();
    assert_eq!(used, bytes.len());
    let a = obj(&[("a", 1.0.into())]);
    assert_eq!(v, Amf0Value::StrictArray(vec![a.clone(), a]));
}

#[test]
fn references_span_a_whole_message() {
    let mut bytes = Vec::new();
    encode(&Amf0Value::from("cmd"), &mut bytes);
    encode(&obj(&[("k", "v".into())]), &mut bytes);
    bytes.extend_from_slice(&[0x07, 0, 0]);
    let values = decode_all(&bytes).unwrap();
    assert_eq!(values[1], values[2]);
}

#[test]
fn bad_and_cyclic_references_are_errors() {
    assert_eq!(
        decode(&[0x07, 0, 0]),
        Err(AmfError::BadReference {
            index: 0,
            count: 0,
            offset: 0
        })
    );
    // {a: ref 0} refers to itself.
    let bytes = [0x03, 0, 1, b'a', 0x07, 0, 0, 0, 0, 0x09];
    assert_eq!(
        decode(&bytes),
        Err(AmfError::CyclicReference {
            index: 0,
            offset: 4
        })
    );
}

#[test]
fn reference_chains_cannot_expand_exponentially() {
    // Object i holds two references to object i-1: 2^40 leaves if expanded.
    let mut bytes = vec![0x0a, 0, 0, 0, 41];
    encode(&obj(&[("x", 1.0.into())]), &mut bytes);
    for i in 1..=40u16 {
        bytes.extend_from_slice(&[0x03, 0, 1, b'a', 0x07]);
        bytes.extend_from_slice(&i.to_be_bytes());
        bytes.extend_from_slice(&[0, 1, b'b', 0x07]);
        bytes.extend_from_slice(&i.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0x09]);
    }
    assert!(matches!(
        decode(&bytes),
        Err(AmfError::ReferenceBudget { .. })
    ));
}

#[test]
fn nesting_is_limited() {
    let nested = |levels: usize| {
        let mut v = Amf0Value::Null;
        for _ in 0..levels {
            v = Amf0Value::StrictArray(vec![v]);
        }
        let mut out = Vec::new();
        encode(&v, &mut out);
        out
    };
    assert!(decode(&nested(MAX_DEPTH)).is_ok());
    assert!(matches!(
        decode(&nested(MAX_DEPTH + 1)),
        Err(AmfError::TooDeep {
            limit: MAX_DEPTH,
            ..
        })
    ));
}

#[test]
fn huge_declared_lengths_fail_without_allocating() {
    assert!(matches!(
        decode(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x05]),
        Err(AmfError::Truncated {
            what: "strict array",
            ..
        })
    ));
    assert!(matches!(
        decode(&[0x0c, 0xff, 0xff, 0xff, 0xff, b'a']),
        Err(AmfError::Truncated {
            what: "long string",
            ..
        })
    ));
    assert!(matches!(
        decode(&[0x02, 0xff, 0xff]),
        Err(AmfError::Truncated { what: "string", .. })
    ));
}

#[test]
fn every_truncation_of_a_command_is_an_error() {
    let full = encode_all(&[
        "connect".into(),
        1.0.into(),
        obj(&[
            ("app", "live".into()),
            ("tcUrl", "rtmp://h/live".into()),
            (
                "fourCcList",
                Amf0Value::StrictArray(vec!["av01".into(), "hvc1".into()]),
            ),
        ]),
    ]);
    assert_eq!(decode_all(&full).unwrap().len(), 3);
    for cut in 1..full.len() {
        let prefix = &full[..cut];
        // A cut between values is a valid shorter message; anything else must fail.
        if let Ok(values) = decode_all(prefix) {
            assert!(values.len() < 3, "cut at {cut} decoded everything");
        }
    }
}

// ---- AMF3 ----

#[test]
fn amf3_scalars() {
    // 0x11 switches to AMF3 for one value.
    assert_eq!(decode(&[0x11, 0x01]).unwrap(), (Amf0Value::Null, 2));
    assert_eq!(decode(&[0x11, 0x00]).unwrap().0, Amf0Value::Undefined);
    assert_eq!(decode(&[0x11, 0x03]).unwrap().0, Amf0Value::Boolean(true));
    assert_eq!(decode(&[0x11, 0x02]).unwrap().0, Amf0Value::Boolean(false));
    // Integers: 1-byte, 2-byte, 4-byte, and the sign of 29 bits.
    assert_eq!(decode(&[0x11, 0x04, 0x05]).unwrap().0, 5.0.into());
    assert_eq!(decode(&[0x11, 0x04, 0x81, 0x00]).unwrap().0, 128.0.into());
    assert_eq!(
        decode(&[0x11, 0x04, 0xff, 0xff, 0xff, 0xff]).unwrap().0,
        (-1.0).into()
    );
    assert_eq!(
        decode(&[0x11, 0x04, 0xbf, 0xff, 0xff, 0xff]).unwrap().0,
        268_435_455.0.into()
    );
    let mut dbl = vec![0x11, 0x05];
    dbl.extend_from_slice(&2.5f64.to_be_bytes());
    assert_eq!(decode(&dbl).unwrap().0, 2.5.into());
    assert_eq!(
        decode(&[0x11, 0x06, 0x07, b'a', b'b', b'c']).unwrap().0,
        "abc".into()
    );
}

#[test]
fn amf3_objects_traits_and_references() {
    // Array (dense 3): ["ab", "ab" (string ref 0), {anonymous, sealed [x], dynamic: y}] ...
    let bytes = [
        0x11, 0x09, 0x07, 0x01, // array, 3 dense, empty assoc part
        0x06, 0x05, b'a', b'b', // "ab" inline
        0x06, 0x00, // string reference 0
        0x0a, 0x1b, 0x01, // object, inline traits, dynamic, 1 sealed, class ""
        0x03, b'x', // sealed member "x"
        0x04, 0x07, // x = 7
        0x03, b'y', 0x01, // dynamic y = null
        0x01, // end of dynamic members
    ];
    let (v, used) = decode(&bytes).unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(
        v,
        Amf0Value::StrictArray(vec![
            "ab".into(),
            "ab".into(),
            obj(&[("x", 7.0.into()), ("y", Amf0Value::Null)]),
        ])
    );

    // [ typed{c: 1}, object ref 1, typed via traits ref 0 {c: 2} ]
    let bytes = [
        0x11, 0x09, 0x07, 0x01, // array of 3
        0x0a, 0x13, 0x03, b'K', 0x03, b'c', 0x04, 0x01, // class K, sealed [c], c=1
        0x0a, 0x02, // object reference 1 (0 is the array)
        0x0a, 0x01, 0x04, 0x02, // traits reference 0, c=2
    ];
    let (v, _) = decode(&bytes).unwrap();
    let k = |n: f64| Amf0Value::TypedObject {
        class_name: "K".into(),
        properties: vec![("c".into(), n.into())],
    };
    assert_eq!(v, Amf0Value::StrictArray(vec![k(1.0), k(1.0), k(2.0)]));
}

#[test]
fn amf3_associative_array_and_unsupported_types() {
    let bytes = [0x11, 0x09, 0x03, 0x03, b'k', 0x03, 0x01, 0x02];
    assert_eq!(
        decode(&bytes).unwrap().0,
        Amf0Value::EcmaArray(vec![("k".into(), true.into()), ("0".into(), false.into())])
    );
    for marker in [0x0c, 0x0d, 0x10, 0x11] {
        assert!(matches!(
            decode(&[0x11, marker, 0x01]),
            Err(AmfError::Amf3Unsupported { .. })
        ));
    }
    assert!(matches!(
        decode(&[0x11, 0x0a, 0x07, 0x01]),
        Err(AmfError::Amf3Unsupported {
            what: "externalizable object",
            ..
        })
    ));
    assert!(matches!(
        decode(&[0x11, 0x06, 0x02]),
        Err(AmfError::BadReference { .. })
    ));
    assert!(matches!(
        decode(&[0x11, 0x0a, 0x02]),
        Err(AmfError::BadReference { .. })
    ));
}

// ---- properties ----

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![".{0,12}", "[a-zA-Z]{0,4}"]
}

fn arb_props(inner: BoxedStrategy<Amf0Value>) -> impl Strategy<Value = Vec<(String, Amf0Value)>> {
    prop::collection::vec((arb_string(), inner), 0..4)
}

fn arb_value() -> impl Strategy<Value = Amf0Value> {
    let leaf = prop_oneof![
        any::<f64>()
            .prop_filter("NaN never equals itself", |n| !n.is_nan())
            .prop_map(Amf0Value::Number),
        any::<bool>().prop_map(Amf0Value::Boolean),
        arb_string().prop_map(Amf0Value::String),
        Just(Amf0Value::Null),
        Just(Amf0Value::Undefined),
        (any::<i32>(), any::<i16>()).prop_map(|(m, time_zone)| Amf0Value::Date {
            millis: f64::from(m),
            time_zone
        }),
        arb_string().prop_map(Amf0Value::LongString),
        arb_string().prop_map(Amf0Value::XmlDocument),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        let inner = inner.boxed();
        prop_oneof![
            arb_props(inner.clone()).prop_map(Amf0Value::Object),
            arb_props(inner.clone()).prop_map(Amf0Value::EcmaArray),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Amf0Value::StrictArray),
            (arb_string(), arb_props(inner)).prop_map(|(class_name, properties)| {
                Amf0Value::TypedObject {
                    class_name,
                    properties,
                }
            }),
        ]
    })
}

proptest! {
    #[test]
    fn values_round_trip(values in prop::collection::vec(arb_value(), 0..4)) {
        let bytes = encode_all(&values);
        let back = decode_all(&bytes).unwrap();
        prop_assert_eq!(&back, &values);
        prop_assert_eq!(encode_all(&back), bytes);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_all(&bytes);
        if let Ok((_, used)) = decode(&bytes) {
            prop_assert!(used <= bytes.len());
        }
    }

    #[test]
    fn amf3_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut input = vec![0x11];
        input.extend_from_slice(&bytes);
        let _ = decode_all(&input);
    }

    #[test]
    fn mutated_encodings_never_panic(
        value in arb_value(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = Vec::new();
        encode(&value, &mut bytes);
        for (at, b) in flips {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = b;
            }
        }
        let _ = decode_all(&bytes);
    }
}
