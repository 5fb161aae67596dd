//! Every system.ini shipped with the templates parses, round-trips byte for byte, and reads
//! the same as Python's configparser reads it.

use std::path::Path;
use std::process::{Command, Stdio};

use genpack_ini::Document;

fn template_inis() -> Vec<std::path::PathBuf> {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    let Ok(dirs) = std::fs::read_dir(templates) else {
        return Vec::new();
    };
    let mut found: Vec<_> = dirs
        .flatten()
        .map(|d| d.path().join("system.ini"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

fn python_values(text: &str) -> serde_json::Value {
    use std::io::Write;
    let script = "import configparser,json,sys\np=configparser.ConfigParser()\np.read_string('[_default]\\n'+sys.stdin.read())\nprint(json.dumps({s:{k:p.get(s,k,raw=True) for k in p[s]} for s in p.sections()}))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "configparser rejects the file");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn template_system_inis_round_trip_and_match_configparser() {
    let inis = template_inis();
    eprintln!("checking {} template system.ini files", inis.len());
    for path in inis {
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(doc.to_string(), text, "{}", path.display());
        let mut ours = serde_json::Map::new();
        for s in doc.sections() {
            let keys: serde_json::Map<String, serde_json::Value> = doc
                .entries(&s)
                .into_iter()
                .map(|e| {
                    (
                        e.key.to_lowercase(),
                        doc.raw(&s, &e.key).unwrap_or_default().into(),
                    )
                })
                .collect();
            ours.insert(s, keys.into());
        }
        assert_eq!(
            serde_json::Value::Object(ours),
            python_values(&text),
            "{}",
            path.display()
        );
        for issue in genpack_ini::validate(&doc, &genpack_ini::Schema::builtin()) {
            if issue.severity == genpack_ini::Severity::Error {
                eprintln!("{}:{}: {}", path.display(), issue.line, issue.message);
            }
        }
    }
}
