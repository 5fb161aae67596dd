//! `ports`: the network services the appliance offers, each a port, a protocol, a name for
//! people and, for a web page, how a browser opens it.

use jsonc_parser::ast::Value;
use jsonc_parser::common::Ranged;

use super::{child_index, child_key, prop_name, prop_name_range, suggest, Reader};
use crate::diagnostic::Severity;
use crate::model::{Protocol, ServicePort, WebScheme};

/// The settings of one entry of `ports`.
const PORT_KEYS: [&str; 5] = ["port", "protocol", "name", "web", "path"];

impl Reader<'_> {
    pub(super) fn ports(&mut self, value: &Value, path: &str) -> Vec<ServicePort> {
        let Value::Array(array) = value else {
            self.wrong_type(
                value,
                path,
                "a list of services like { port: 80, name: \"Web site\", web: \"http\" }",
            );
            return Vec::new();
        };
        let mut ports: Vec<ServicePort> = Vec::new();
        for (index, element) in array.elements.iter().enumerate() {
            let here = child_index(path, index);
            let Value::Object(object) = element else {
                self.wrong_type(element, &here, "a service like { port: 22, name: \"SSH\" }");
                continue;
            };
            let (mut port, mut protocol, mut name, mut web, mut page) =
                (None, Protocol::Tcp, None, None, None);
            for (key, prop) in self.properties(object, &here) {
                let key_path = child_key(&here, &key);
                match key.as_str() {
                    "port" => match self.whole_number(
                        &prop.value,
                        &key_path,
                        "a port number from 1 to 65535",
                        65535,
                    ) {
                        Some(0) => self.error(
                            prop.value.range(),
                            &key_path,
                            "port 0 is not a port: use 1 to 65535",
                        ),
                        Some(n) => port = u16::try_from(n).ok(),
                        None => {}
                    },
                    "protocol" => {
                        if let Some(text) =
                            self.string(&prop.value, &key_path, "\"tcp\" or \"udp\"")
                        {
                            match text.as_str() {
                                "tcp" => protocol = Protocol::Tcp,
                                "udp" => protocol = Protocol::Udp,
                                _ => self.error_help(
                                    prop.value.range(),
                                    &key_path,
                                    format!("unknown protocol `{text}`"),
                                    "write \"tcp\" or \"udp\"",
                                ),
                            }
                        }
                    }
                    "name" => {
                        if let Some(text) = self.string(
                            &prop.value,
                            &key_path,
                            "a name for people, like \"Web site\"",
                        ) {
                            if text.trim().is_empty() {
                                self.error_help(
                                    prop.value.range(),
                                    &key_path,
                                    "the service name is empty",
                                    "say what answers there, like \"Web site\"",
                                );
                            } else {
                                name = Some(text);
                            }
                        }
                    }
                    "web" => {
                        if let Some(text) =
                            self.string(&prop.value, &key_path, "\"http\" or \"https\"")
                        {
                            match text.as_str() {
                                "http" => web = Some(WebScheme::Http),
                                "https" => web = Some(WebScheme::Https),
                                _ => self.error_help(prop.value.range(), &key_path, format!("`web` is `{text}`"), "write \"http\" or \"https\", or leave `web` out when a browser cannot open the service"),
                            }
                        }
                    }
                    "path" => {
                        if let Some(text) =
                            self.string(&prop.value, &key_path, "a page like \"/admin\"")
                        {
                            if text.starts_with('/') {
                                page = Some((text, prop.value.range()));
                            } else {
                                self.error_help(
                                    prop.value.range(),
                                    &key_path,
                                    format!("the page `{text}` does not start with `/`"),
                                    format!("write \"/{text}\""),
                                );
                            }
                        }
                    }
                    _ => {
                        let help = suggest(&key, PORT_KEYS.into_iter())
                            .map(|close| format!("did you mean `{close}`?"))
                            .or_else(|| {
                                Some(format!("a service's settings: {}", PORT_KEYS.join(", ")))
                            });
                        self.report(
                            Severity::Error,
                            prop_name_range(prop),
                            &key_path,
                            format!("unknown service setting `{key}`"),
                            help,
                        );
                    }
                }
            }
            let has = |wanted: &str| object.properties.iter().any(|p| prop_name(p) == wanted);
            if !has("port") {
                self.error_help(
                    object.range,
                    &here,
                    "this service has no `port`",
                    "add the port inside the appliance, like port: 80",
                );
            }
            if !has("name") {
                self.error_help(
                    object.range,
                    &here,
                    "this service has no `name`",
                    "add what answers there, like name: \"Web site\"",
                );
            }
            if web.is_some() && protocol == Protocol::Udp {
                self.error_help(
                    object.range,
                    &here,
                    "a browser cannot open a UDP port",
                    "leave `web` out, or use protocol \"tcp\"",
                );
                web = None;
            }
            if let (Some((_, range)), None) = (&page, web) {
                self.error_help(
                    *range,
                    &child_key(&here, "path"),
                    "`path` is the page a browser opens, but this service has no `web`",
                    "add web: \"http\" or remove `path`",
                );
                page = None;
            }
            let (Some(port), Some(name)) = (port, name) else {
                continue;
            };
            if let Some(first) = ports
                .iter()
                .position(|p| p.port == port && p.protocol == protocol)
            {
                self.error_help(
                    object.range,
                    &here,
                    format!("port {port} is already listed (entry {first})"),
                    "list each port once",
                );
                continue;
            }
            ports.push(ServicePort {
                port,
                protocol,
                name,
                web,
                path: page.map(|(text, _)| text),
            });
        }
        ports
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Protocol, WebScheme};
    use crate::parse_definition;
    use std::path::Path;

    #[test]
    fn services_are_read_with_their_defaults() {
        let parsed = parse_definition(
            r#"{ name: "web", ports: [{ port: 80, name: "Web site", web: "http" }, { port: 53, protocol: "udp", name: "DNS" }] }"#,
            Path::new("genpack.json5"),
        );
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let ports = parsed.definition.unwrap().ports;
        assert_eq!(ports.len(), 2);
        assert_eq!(
            (ports[0].port, ports[0].protocol, ports[0].web),
            (80, Protocol::Tcp, Some(WebScheme::Http))
        );
        assert_eq!(
            (ports[1].port, ports[1].protocol, ports[1].web),
            (53, Protocol::Udp, None)
        );
    }

    #[test]
    fn bad_services_are_reported_where_they_are() {
        let parsed = parse_definition(
            "{\n ports: [\n  { port: 0, name: \"x\" },\n  { port: 53, protocol: \"udp\", name: \"DNS\", web: \"http\" },\n  { prot: 22, name: \"SSH\" },\n  { port: 8080, name: \"Admin\", path: \"admin\" },\n ]\n}",
            Path::new("genpack.json5"),
        );
        let text: Vec<String> = parsed
            .diagnostics
            .iter()
            .map(|d| {
                format!(
                    "{}:{} {} {}",
                    d.line,
                    d.path,
                    d.message,
                    d.help.clone().unwrap_or_default()
                )
            })
            .collect();
        let all = text.join("\n");
        assert!(
            all.contains("3:ports[0].port port 0 is not a port"),
            "{all}"
        );
        assert!(
            all.contains("4:ports[1] a browser cannot open a UDP port"),
            "{all}"
        );
        assert!(all.contains("unknown service setting `prot`"), "{all}");
        assert!(
            all.contains("5:ports[2] this service has no `port`"),
            "{all}"
        );
        assert!(
            all.contains("6:ports[3].path the page `admin` does not start with `/`"),
            "{all}"
        );
    }
}
