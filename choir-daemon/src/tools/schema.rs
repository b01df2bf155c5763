//! A tool's argument schema, derived from its argument type, and a small check of arguments
//! against it (object, required properties, property types and allowed values, no unknown
//! properties), so a bad call is refused with a clear reason before anything runs or is
//! recorded. The type then parses the arguments: schema and parsing come from one place.

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::Value;

/// The JSON schema of `T` as a model is shown it: an object schema with the subschemas
/// inlined, no meta-schema or title, and an optional property typed as its value (it is
/// left out of `required` instead of also allowing `null`).
pub fn derived<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft07()
        .with(|settings| {
            settings.meta_schema = None;
            settings.inline_subschemas = true;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(root) = schema.as_object_mut() {
        // The type's own name and doc comment say nothing to the model: the tool's
        // description does.
        root.remove("title");
        root.remove("description");
        root.entry("properties")
            .or_insert_with(|| Value::Object(Default::default()));
    }
    for property in schema["properties"]
        .as_object_mut()
        .into_iter()
        .flat_map(|properties| properties.values_mut())
    {
        simplify(property);
    }
    schema
}

/// `{"type": ["string", "null"]}` → `{"type": "string"}`, `null` out of an `enum`, and no
/// `format` (Rust's integer widths say nothing to a model).
fn simplify(property: &mut Value) {
    if let Some(property) = property.as_object_mut() {
        property.remove("format");
    }
    if let Some(allowed) = property.get_mut("enum").and_then(Value::as_array_mut) {
        allowed.retain(|value| !value.is_null());
    }
    let Some(types) = property.get("type").and_then(Value::as_array) else {
        return;
    };
    let kept: Vec<Value> = types
        .iter()
        .filter(|kind| kind.as_str() != Some("null"))
        .cloned()
        .collect();
    property["type"] = match <[Value; 1]>::try_from(kept) {
        Ok([one]) => one,
        Err(many) => Value::Array(many),
    };
}

pub fn check(schema: &Value, args: &Value) -> Result<(), String> {
    let Some(args) = args.as_object() else {
        return Err("arguments must be a JSON object".into());
    };
    let properties = schema["properties"].as_object();
    for required in schema["required"].as_array().into_iter().flatten() {
        if let Some(name) = required.as_str() {
            if !args.contains_key(name) {
                return Err(format!("missing required argument `{name}`"));
            }
        }
    }
    for (name, value) in args {
        let Some(property) = properties.and_then(|p| p.get(name)) else {
            return Err(format!("unknown argument `{name}`"));
        };
        let fits = match property["type"].as_str() {
            Some("string") => value.is_string(),
            Some("integer") => value.is_u64() || value.is_i64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            _ => true,
        };
        if !fits {
            return Err(format!(
                "argument `{name}` must be of type {}",
                property["type"]
            ));
        }
        if property["minimum"].as_u64() == Some(0) && value.as_i64().is_some_and(|n| n < 0) {
            return Err(format!("argument `{name}` must not be negative"));
        }
        if let Some(allowed) = property["enum"].as_array() {
            if !allowed.contains(value) {
                let names: Vec<String> = allowed
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect();
                return Err(format!(
                    "argument `{name}` must be one of: {}",
                    names.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[allow(dead_code)]
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "snake_case")]
    enum Colour {
        Red,
        DarkBlue,
    }

    /// The type's own doc comment, which the schema leaves out.
    #[allow(dead_code)]
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Args {
        /// the command line
        cmd: String,
        n: Option<u64>,
        colour: Option<Colour>,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[test]
    fn a_derived_schema_says_what_the_type_parses() {
        let schema = derived::<Args>();
        assert_eq!(schema["type"], json!("object"));
        assert_eq!(schema["required"], json!(["cmd"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["properties"]["cmd"]["type"], json!("string"));
        assert_eq!(
            schema["properties"]["cmd"]["description"],
            json!("the command line")
        );
        assert_eq!(
            schema["properties"]["n"],
            json!({"type": "integer", "minimum": 0})
        );
        assert_eq!(
            schema["properties"]["colour"]["enum"],
            json!(["red", "dark_blue"])
        );
        assert_eq!(schema["properties"]["tags"]["type"], json!("array"));
        for left_out in ["title", "description", "$schema"] {
            assert!(schema.get(left_out).is_none(), "{left_out}: {schema}");
        }
        let nothing = derived::<Empty>();
        assert_eq!(nothing["properties"], json!({}));
    }

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Empty {}

    #[test]
    fn checks_required_types_values_and_unknowns() {
        let schema = derived::<Args>();
        assert_eq!(check(&schema, &json!({"cmd": "ls"})), Ok(()));
        assert_eq!(
            check(
                &schema,
                &json!({"cmd": "ls", "n": 3, "colour": "dark_blue"})
            ),
            Ok(())
        );
        let refused = |args| check(&schema, &args).unwrap_err();
        assert!(refused(json!({})).contains("missing required argument `cmd`"));
        assert!(refused(json!({"cmd": 1})).contains("must be of type"));
        assert!(refused(json!({"cmd": "ls", "x": 1})).contains("unknown argument `x`"));
        assert!(refused(json!({"cmd": "ls", "n": -1})).contains("must not be negative"));
        assert_eq!(
            refused(json!({"cmd": "ls", "colour": "green"})),
            "argument `colour` must be one of: red, dark_blue"
        );
        assert!(check(&schema, &json!([1])).is_err());
    }

    /// Whatever the check lets through, the type parses, and the other way round: schema and
    /// parsing agree on every argument object of these shapes.
    #[test]
    fn the_check_and_the_parse_agree() {
        let schema = derived::<Args>();
        let values = [
            json!("ls"),
            json!(3),
            json!(-2),
            json!(true),
            json!("red"),
            json!("green"),
            json!(["a"]),
            json!(null),
        ];
        for key in ["cmd", "n", "colour", "tags", "other"] {
            for value in &values {
                for with_cmd in [false, true] {
                    let mut args = serde_json::Map::new();
                    if with_cmd {
                        args.insert("cmd".into(), json!("ls"));
                    }
                    args.insert(key.into(), value.clone());
                    let args = Value::Object(args);
                    let checked = check(&schema, &args).is_ok();
                    let parsed = serde_json::from_value::<Args>(args.clone()).is_ok();
                    // `null` for an optional argument parses as left out; the check, which
                    // follows the schema, refuses it. Nothing the check allows fails to parse.
                    if checked {
                        assert!(parsed, "{args} passed the check but does not parse");
                    } else if !value.is_null() {
                        assert!(!parsed, "{args} parses but the check refused it");
                    }
                }
            }
        }
    }
}
