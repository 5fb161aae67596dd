//! Compares our reading with Python's configparser read the way genpack-init reads system.ini.

use std::io::Write;
use std::process::{Command, Stdio};

use genpack_ini::Document;

fn python_reading(text: &str) -> Option<serde_json::Value> {
    let script = r#"
import configparser, json, sys
p = configparser.ConfigParser()
try:
    p.read_string("[_default]\n" + sys.stdin.read())
except configparser.Error as e:
    print(json.dumps({"error": type(e).__name__}))
    sys.exit(0)
out = {}
for s in p.sections():
    out[s] = {}
    for k in p[s]:
        try:
            out[s][k] = p.get(s, k)
        except configparser.Error as e:
            out[s][k] = {"error": type(e).__name__}
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn our_reading(text: &str) -> serde_json::Value {
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(_) => return serde_json::json!({"error": "parse"}),
    };
    let mut out = serde_json::Map::new();
    for s in doc.sections() {
        let mut keys = serde_json::Map::new();
        for e in doc.entries(&s) {
            let v = match doc.value(&s, &e.key) {
                Ok(v) => serde_json::Value::String(v.unwrap_or_default()),
                Err(_) => serde_json::json!({"error": "InterpolationSyntaxError"}),
            };
            keys.insert(e.key.to_lowercase(), v);
        }
        out.insert(s, serde_json::Value::Object(keys));
    }
    serde_json::Value::Object(out)
}

#[test]
fn readings_match_python_configparser() {
    let cases = [
        "hostname=box\ntimezone : Asia/Tokyo\n",
        "HostName = Box # tail\n",
        "ssh_pubkey = a\n  b\n\n  # c\n  d\n\nx=1\n",
        "k =\n  first\n  second\n",
        "  indented = 1\n    more\nnext=2\n",
        "a=1\n[s]\nb=2\n[t]\nc : 3 = 4\n",
        "p = 50%% off\nq = %(p)s!\nr = 5%\n",
        "a=1\r\nb=2\r\n",
        "[x]\n[y]\nk=v",
        "a=1\n\n\n   \nb=2\n",
        "a = x\n\t\ttabbed\n",
        "[s]\nk=v\n[s]\n",
        "a=1\nA=2\n",
        "name = Grüße\n[Sektion]\nschlüssel = wert\n",
    ];
    for text in cases {
        let Some(python) = python_reading(text) else {
            panic!("python3 is needed for this test");
        };
        let ours = our_reading(text);
        if python.get("error").is_some() {
            assert!(
                ours.get("error").is_some(),
                "{text:?}: python fails, we accept: {ours}"
            );
        } else {
            assert_eq!(ours, python, "{text:?}");
        }
    }
}
