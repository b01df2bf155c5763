//! A small check of arguments against a tool's JSON schema (object, required properties,
//! property types, no unknown properties), so a bad call is refused before anything runs or
//! is recorded.

use serde_json::Value;

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
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_required_types_and_unknowns() {
        let schema = json!({"type": "object", "properties": {"cmd": {"type": "string"}, "n": {"type": "integer"}}, "required": ["cmd"]});
        assert_eq!(check(&schema, &json!({"cmd": "ls"})), Ok(()));
        assert_eq!(check(&schema, &json!({"cmd": "ls", "n": 3})), Ok(()));
        assert!(check(&schema, &json!({}))
            .unwrap_err()
            .contains("missing required argument `cmd`"));
        assert!(check(&schema, &json!({"cmd": 1}))
            .unwrap_err()
            .contains("must be of type"));
        assert!(check(&schema, &json!({"cmd": "ls", "x": 1}))
            .unwrap_err()
            .contains("unknown argument"));
        assert!(check(&schema, &json!([1])).is_err());
    }
}
