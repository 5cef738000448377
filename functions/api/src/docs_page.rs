//! The `/docs` page: the committed OpenAPI document (`openapi.json`) rendered once, at build
//! time, into one static HTML page. It replaces a 218 KiB (gzipped) JavaScript renderer that
//! was a tenth of the api's zip and drew the same reference in the browser on every visit;
//! this page needs no script, reads on a phone, and costs a few KiB.
//!
//! `build.rs` includes this file as a module (so a broken document fails the build, with the
//! message of the [`RenderError`]); the api's unit tests include it too. It uses nothing but
//! `std` and `serde_json`.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

/// Why the document cannot be rendered: a `$ref` to nothing, a cycle of `$ref`s (the page
/// lists fields by expanding references, so a cycle would never end), or a part of the
/// document that is not the shape OpenAPI gives it.
#[derive(Debug)]
pub struct RenderError(String);

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenderError {}

type Result<T> = std::result::Result<T, RenderError>;

/// Where component schemas live; the only `$ref`s the document uses.
const SCHEMA_REF: &str = "#/components/schemas/";

/// The HTTP methods an OpenAPI path item may hold, in the order the page lists them.
const METHODS: &[&str] = &[
    "get", "put", "post", "patch", "delete", "head", "options", "trace",
];

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A description as HTML: escaped, `code` spans kept as code, blank lines as paragraph breaks
/// and single line breaks as spaces (the annotations wrap their doc comments at 100 columns).
fn prose(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|paragraph| format!("<p>{}</p>", inline(paragraph)))
        .collect()
}

/// One line of prose as HTML: escaped, line breaks as spaces, `code` spans as code.
fn inline(text: &str) -> String {
    let joined = text
        .split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let mut html = String::new();
    for (i, part) in joined.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(html, "<code>{}</code>", escape(part));
        } else {
            html.push_str(&escape(part));
        }
    }
    html
}

/// The anchor of an operation: its method and path, which the document keeps unique (an
/// `operationId` is not: two tags each have a `list`).
pub fn anchor(method: &str, path: &str) -> String {
    let mut slug = method.to_ascii_lowercase();
    let mut dash = true;
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            if dash {
                slug.push('-');
            }
            slug.push(c.to_ascii_lowercase());
            dash = false;
        } else {
            dash = true;
        }
    }
    slug
}

/// One operation of the document, as the page lists it.
struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    body: &'a Map<String, Value>,
}

impl Operation<'_> {
    fn anchor(&self) -> String {
        anchor(self.method, self.path)
    }

    /// The first sentence-sized line of the summary, for the table of contents.
    fn headline(&self) -> String {
        let summary = self
            .body
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or("");
        let first = summary
            .split("\n\n")
            .next()
            .unwrap_or("")
            .replace('\n', " ");
        match first.find(". ") {
            Some(end) => first[..=end].to_owned(),
            None => first,
        }
    }
}

/// The document being rendered, with its component schemas at hand for `$ref`s.
struct Document<'a> {
    root: &'a Value,
    schemas: Map<String, Value>,
}

/// Renders the page for `document` (an OpenAPI 3.1 document as JSON).
pub fn render(document: &Value) -> Result<String> {
    let schemas = match document.pointer("/components/schemas") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(RenderError("components.schemas is not an object".into())),
    };
    let doc = Document {
        root: document,
        schemas,
    };
    doc.check_every_schema()?;
    doc.page()
}

impl<'a> Document<'a> {
    /// Every component schema expanded once, so a broken one fails the build even when no
    /// operation uses it.
    fn check_every_schema(&self) -> Result<()> {
        for (name, schema) in &self.schemas {
            let mut stack = vec![name.clone()];
            self.fields(
                schema,
                &format!("schema {name}"),
                &mut stack,
                &mut String::new(),
            )?;
        }
        Ok(())
    }

    fn text(&self, pointer: &str) -> &'a str {
        self.root
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The operations grouped by tag: the document's tags in its order, then any tag an
    /// operation names without declaring it, then the untagged ones under "other".
    fn groups(&self) -> Result<Vec<(String, String, Vec<Operation<'a>>)>> {
        let paths = self
            .root
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| RenderError("the document has no `paths` object".into()))?;
        let mut groups: Vec<(String, String, Vec<Operation<'a>>)> = self
            .root
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|tag| {
                let text = |key| {
                    tag.get(key)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                (text("name"), text("description"), Vec::new())
            })
            .collect();
        let mut anchors = BTreeSet::new();
        for (path, item) in paths {
            let item = item
                .as_object()
                .ok_or_else(|| RenderError(format!("path {path} is not an object")))?;
            for method in METHODS {
                let Some(body) = item.get(*method) else {
                    continue;
                };
                let body = body.as_object().ok_or_else(|| {
                    RenderError(format!("{} {path} is not an object", method.to_uppercase()))
                })?;
                let operation = Operation { method, path, body };
                if !anchors.insert(operation.anchor()) {
                    return Err(RenderError(format!(
                        "{} {path} has the same anchor as another operation",
                        method.to_uppercase()
                    )));
                }
                let tag = body
                    .get("tags")
                    .and_then(|t| t.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or("other");
                match groups.iter_mut().find(|(name, ..)| name == tag) {
                    Some(group) => group.2.push(operation),
                    None => groups.push((tag.to_owned(), String::new(), vec![operation])),
                }
            }
        }
        groups.retain(|(.., operations)| !operations.is_empty());
        Ok(groups)
    }

    fn page(&self) -> Result<String> {
        let title = self.text("/info/title");
        let version = self.text("/info/version");
        let groups = self.groups()?;
        let mut html = String::new();
        let _ = write!(
            html,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{} API</title>\n<link rel=\"stylesheet\" href=\"/assets/docs.css\">\n\
             <link rel=\"icon\" href=\"data:,\">\n</head>\n<body>\n<header>\n\
             <strong class=\"brand\">{} API</strong> <span class=\"version\">{}</span>\n\
             <nav><a href=\"/\">Chart</a> <a href=\"/openapi.json\">openapi.json</a></nav>\n\
             </header>\n<main>\n",
            escape(title),
            escape(title),
            escape(version)
        );
        html.push_str(&prose(self.text("/info/description")));
        html.push_str(
            "<p class=\"hint\">The examples read the API's address from <code>$API</code> \
             (e.g. <code>API=https://…</code>) and a write key from <code>$API_KEY</code>.</p>\n",
        );
        html.push_str("<nav class=\"toc\" aria-label=\"contents\">\n<h2>Contents</h2>\n<ul>\n");
        for (tag, description, operations) in &groups {
            let _ = write!(
                html,
                "<li><a href=\"#tag-{}\">{}</a>",
                escape(tag),
                escape(tag)
            );
            if !description.is_empty() {
                let _ = write!(
                    html,
                    " <span class=\"muted\">{}</span>",
                    escape(description)
                );
            }
            html.push_str("\n<ul>\n");
            for operation in operations {
                let _ = writeln!(
                    html,
                    "<li><a href=\"#{}\"><span class=\"method {}\">{}</span> <code>{}</code></a> \
                     <span class=\"muted\">{}</span></li>",
                    operation.anchor(),
                    operation.method,
                    operation.method.to_uppercase(),
                    escape(operation.path),
                    inline(&operation.headline())
                );
            }
            html.push_str("</ul></li>\n");
        }
        html.push_str("</ul>\n</nav>\n");
        let mut shared = BTreeSet::new();
        for (tag, description, operations) in &groups {
            let _ = writeln!(
                html,
                "<section>\n<h2 id=\"tag-{}\">{}</h2>{}",
                escape(tag),
                escape(tag),
                prose(description)
            );
            for operation in operations {
                self.operation(operation, &mut shared, &mut html)?;
            }
            html.push_str("</section>\n");
        }
        if !shared.is_empty() {
            html.push_str("<section>\n<h2 id=\"schemas\">Shared schemas</h2>\n");
            for name in &shared {
                let schema = self.schema(name, "shared schemas")?;
                let _ = writeln!(
                    html,
                    "<article class=\"schema\">\n<h3 id=\"schema-{}\">{}</h3>",
                    escape(name),
                    escape(name)
                );
                html.push_str(&prose(
                    schema
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                ));
                let mut stack = vec![name.clone()];
                self.fields(schema, &format!("schema {name}"), &mut stack, &mut html)?;
                html.push_str("</article>\n");
            }
            html.push_str("</section>\n");
        }
        html.push_str(
            "</main>\n<footer>Rendered from <a href=\"/openapi.json\">openapi.json</a> when the \
             API was built.</footer>\n</body>\n</html>\n",
        );
        Ok(html)
    }

    fn operation(
        &self,
        operation: &Operation<'_>,
        shared: &mut BTreeSet<String>,
        html: &mut String,
    ) -> Result<()> {
        let where_ = format!("{} {}", operation.method.to_uppercase(), operation.path);
        let body = operation.body;
        let _ = writeln!(
            html,
            "<article class=\"operation\">\n<h3 id=\"{}\"><a href=\"#{}\"><span class=\"method {}\">{}</span> \
             <code>{}</code></a></h3>",
            operation.anchor(),
            operation.anchor(),
            operation.method,
            operation.method.to_uppercase(),
            escape(operation.path)
        );
        for key in ["summary", "description"] {
            html.push_str(&prose(body.get(key).and_then(Value::as_str).unwrap_or("")));
        }
        let secured = body
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        if secured {
            html.push_str(
                "<p class=\"auth\">Needs <code>Authorization: Bearer &lt;key&gt;</code>.</p>\n",
            );
        }
        let parameters = body
            .get("parameters")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if !parameters.is_empty() {
            html.push_str("<h4>Parameters</h4>\n<ul class=\"fields\">\n");
            for parameter in parameters {
                self.parameter(parameter, &where_, html)?;
            }
            html.push_str("</ul>\n");
        }
        if let Some(request) = body.get("requestBody") {
            html.push_str("<h4>Request body</h4>\n");
            let required = request.get("required").and_then(Value::as_bool) == Some(true);
            if !required {
                html.push_str("<p class=\"muted\">Optional.</p>\n");
            }
            html.push_str(&prose(
                request
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            ));
            self.content(request, &format!("{where_} request body"), html)?;
        }
        html.push_str("<h4>Responses</h4>\n<dl class=\"responses\">\n");
        let responses = body
            .get("responses")
            .and_then(Value::as_object)
            .ok_or_else(|| RenderError(format!("{where_} has no responses")))?;
        for (status, response) in responses {
            let description = response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            let _ = write!(
                html,
                "<dt><span class=\"status s{}\">{}</span></dt>\n<dd>{}",
                escape(&status[..1]),
                escape(status),
                prose(description)
            );
            let success = status.starts_with('2');
            if success {
                self.content(response, &format!("{where_} response {status}"), html)?;
            } else {
                // Error bodies share one schema: named and linked, listed once at the end.
                for (media, schema) in media_types(response) {
                    let label = self.label(schema, &format!("{where_} response {status}"))?;
                    if let Some(name) = ref_name(schema) {
                        shared.insert(name.to_owned());
                        let _ = write!(
                            html,
                            "<p class=\"muted\">{} <a href=\"#schema-{}\">{}</a></p>",
                            escape(media),
                            escape(name),
                            escape(name)
                        );
                    } else {
                        let _ = write!(
                            html,
                            "<p class=\"muted\">{} {}</p>",
                            escape(media),
                            escape(&label)
                        );
                    }
                }
            }
            html.push_str("</dd>\n");
        }
        html.push_str("</dl>\n");
        let _ = writeln!(
            html,
            "<h4>Example</h4>\n<pre><code>{}</code></pre>\n</article>",
            escape(&self.curl(operation, secured)?)
        );
        Ok(())
    }

    fn parameter(&self, parameter: &Value, where_: &str, html: &mut String) -> Result<()> {
        let name = parameter
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RenderError(format!("{where_}: a parameter has no name")))?;
        let location = parameter.get("in").and_then(Value::as_str).unwrap_or("");
        let schema = parameter.get("schema").unwrap_or(&Value::Null);
        let at = format!("{where_} parameter {name}");
        let _ = write!(
            html,
            "<li><code>{}</code> <span class=\"in\">{}</span> <span class=\"type\">{}</span>",
            escape(name),
            escape(location),
            escape(&self.label(schema, &at)?)
        );
        if parameter.get("required").and_then(Value::as_bool) == Some(true) {
            html.push_str(" <span class=\"required\">required</span>");
        }
        html.push_str(&prose(
            parameter
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or(""),
        ));
        let example = parameter.get("example").or_else(|| schema.get("example"));
        self.limits(schema, example, html);
        let mut stack = Vec::new();
        self.fields(schema, &at, &mut stack, html)?;
        html.push_str("</li>\n");
        Ok(())
    }

    /// Each media type of a request body or response, with its schema as a field list.
    fn content(&self, holder: &Value, at: &str, html: &mut String) -> Result<()> {
        for (media, schema) in media_types(holder) {
            let _ = write!(
                html,
                "<p class=\"media\"><code>{}</code> <span class=\"type\">{}</span></p>",
                escape(media),
                escape(&self.label(schema, at)?)
            );
            let mut stack = Vec::new();
            let mut nested = String::new();
            self.fields(schema, at, &mut stack, &mut nested)?;
            html.push_str(&nested);
        }
        Ok(())
    }

    fn schema(&self, name: &str, at: &str) -> Result<&Value> {
        self.schemas.get(name).ok_or_else(|| {
            RenderError(format!(
                "unknown $ref {SCHEMA_REF}{name} in {at}: no such schema under components.schemas"
            ))
        })
    }

    /// The schema a `$ref` names, checked to exist.
    fn target<'r>(&self, reference: &'r str, at: &str) -> Result<(&'r str, &Value)> {
        let name = reference.strip_prefix(SCHEMA_REF).ok_or_else(|| {
            RenderError(format!(
                "unknown $ref {reference} in {at}: only {SCHEMA_REF}… references are resolved"
            ))
        })?;
        Ok((name, self.schema(name, at)?))
    }

    /// A schema's type in a few words: `string (date-time)`, `array of Candle`,
    /// `Severity or null`, `map of string to integer`.
    fn label(&self, schema: &Value, at: &str) -> Result<String> {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return Ok(self.target(reference, at)?.0.to_owned());
        }
        if let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) {
            let labels = alternatives
                .iter()
                .map(|a| self.label(a, at))
                .collect::<Result<Vec<_>>>()?;
            return Ok(labels.join(" or "));
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if types.is_empty() {
            return Ok("any".into());
        }
        let mut words = Vec::new();
        for t in types {
            let word = match t {
                "array" => format!(
                    "array of {}",
                    self.label(schema.get("items").unwrap_or(&Value::Null), at)?
                ),
                "object" => match schema.get("additionalProperties") {
                    Some(values @ Value::Object(_)) => format!(
                        "map of {} to {}",
                        match schema.get("propertyNames") {
                            Some(keys) => self.label(keys, at)?,
                            None => "string".into(),
                        },
                        self.label(values, at)?
                    ),
                    _ => "object".into(),
                },
                other => other.to_owned(),
            };
            words.push(word);
        }
        let mut label = words.join(" or ");
        if let Some(format) = schema.get("format").and_then(Value::as_str) {
            let _ = write!(label, " ({format})");
        }
        Ok(label)
    }

    /// The constraints a value must meet, and an example of one.
    fn limits(&self, schema: &Value, example: Option<&Value>, html: &mut String) {
        let mut parts = Vec::new();
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let values: Vec<String> = values
                .iter()
                .map(|v| format!("<code>{}</code>", escape(&scalar(v))))
                .collect();
            parts.push(format!("one of {}", values.join(", ")));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            parts.push(format!("pattern <code>{}</code>", escape(pattern)));
        }
        for (key, words) in [
            ("minimum", "at least"),
            ("maximum", "at most"),
            ("exclusiveMinimum", "above"),
            ("exclusiveMaximum", "below"),
            ("minLength", "length at least"),
            ("maxLength", "length at most"),
            ("minItems", "at least items:"),
            ("maxItems", "at most items:"),
        ] {
            if let Some(limit) = schema.get(key) {
                parts.push(format!("{words} {}", escape(&scalar(limit))));
            }
        }
        if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
            parts.push("no other fields".into());
        }
        if let Some(example) = example.or_else(|| schema.get("example")) {
            parts.push(format!("e.g. <code>{}</code>", escape(&scalar(example))));
        }
        if !parts.is_empty() {
            let _ = write!(html, "<p class=\"limits\">{}</p>", parts.join("; "));
        }
    }

    /// What a schema holds beyond its label: its limits and, for objects (and arrays, maps
    /// and alternatives of them), the nested list of fields. `$ref`s are expanded in place;
    /// `stack` holds the ones being expanded, so a cycle is reported instead of recursing
    /// for ever.
    fn fields(
        &self,
        schema: &Value,
        at: &str,
        stack: &mut Vec<String>,
        html: &mut String,
    ) -> Result<()> {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let (name, target) = self.target(reference, at)?;
            if stack.iter().any(|s| s == name) {
                let mut chain = stack.clone();
                chain.push(name.to_owned());
                return Err(RenderError(format!(
                    "$ref cycle in {at}: {} (the docs page expands references, so it cannot \
                     list a schema that contains itself)",
                    chain.join(" → ")
                )));
            }
            if target.get("enum").is_some() {
                self.limits(target, None, html);
            }
            stack.push(name.to_owned());
            let result = self.fields(target, at, stack, html);
            stack.pop();
            return result;
        }
        if let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) {
            for alternative in alternatives {
                self.fields(alternative, at, stack, html)?;
            }
            return Ok(());
        }
        let items = schema.get("items");
        let values = schema.get("additionalProperties").filter(|v| v.is_object());
        for inner in items.into_iter().chain(values) {
            if inner.get("enum").is_some() {
                self.limits(inner, None, html);
            }
            self.fields(inner, at, stack, html)?;
        }
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return Ok(());
        };
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        html.push_str("<ul class=\"fields\">\n");
        for (name, property) in properties {
            let _ = write!(
                html,
                "<li><code>{}</code> <span class=\"type\">{}</span>",
                escape(name),
                escape(&self.label(property, at)?)
            );
            if required.contains(name.as_str()) {
                html.push_str(" <span class=\"required\">required</span>");
            }
            let description = match property.get("description").and_then(Value::as_str) {
                Some(text) => text,
                None => match property.get("$ref").and_then(Value::as_str) {
                    Some(reference) => self
                        .target(reference, at)?
                        .1
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    None => "",
                },
            };
            html.push_str(&prose(description));
            self.limits(property, None, html);
            self.fields(property, at, stack, html)?;
            html.push_str("</li>\n");
        }
        html.push_str("</ul>\n");
        Ok(())
    }

    /// An example request: path parameters and query parameters that have an example filled
    /// in, the key for writes, and a body built from the request schema.
    fn curl(&self, operation: &Operation<'_>, secured: bool) -> Result<String> {
        let where_ = format!("{} {}", operation.method.to_uppercase(), operation.path);
        let mut path = operation.path.to_owned();
        let mut query = Vec::new();
        for parameter in operation
            .body
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = parameter.get("name").and_then(Value::as_str).unwrap_or("");
            let schema = parameter.get("schema").unwrap_or(&Value::Null);
            let example = parameter
                .get("example")
                .or_else(|| schema.get("example"))
                .map(scalar);
            match parameter.get("in").and_then(Value::as_str) {
                Some("path") => {
                    let value = match example {
                        Some(value) => value,
                        None => self.example(schema, &where_, &mut Vec::new())?.to_string(),
                    };
                    path = path.replace(&format!("{{{name}}}"), value.trim_matches('"'));
                }
                Some("query") => {
                    if let Some(value) = example {
                        query.push(format!("{name}={value}"));
                    }
                }
                _ => {}
            }
        }
        let mut url = format!("$API{path}");
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        let mut line = String::from("curl");
        if operation.method != "get" {
            let _ = write!(line, " -X {}", operation.method.to_uppercase());
        }
        let _ = write!(line, " \"{url}\"");
        if secured {
            line.push_str(" \\\n  -H \"Authorization: Bearer $API_KEY\"");
        }
        if let Some(request) = operation.body.get("requestBody")
            && let Some((media, schema)) = media_types(request).next()
        {
            let _ = write!(line, " \\\n  -H 'content-type: {media}'");
            if media == "application/json" {
                let body = self.example(schema, &where_, &mut Vec::new())?;
                let body = body.to_string().replace('\'', "'\\''");
                let _ = write!(line, " \\\n  -d '{body}'");
            } else {
                line.push_str(" \\\n  --data-binary @body");
            }
        }
        Ok(line)
    }

    /// A value the schema accepts: its example, its first enum value, or a placeholder of its
    /// type; objects hold their required fields.
    fn example(&self, schema: &Value, at: &str, stack: &mut Vec<String>) -> Result<Value> {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let (name, target) = self.target(reference, at)?;
            if stack.iter().any(|s| s == name) {
                return Ok(Value::Null);
            }
            stack.push(name.to_owned());
            let value = self.example(target, at, stack);
            stack.pop();
            return value;
        }
        if let Some(example) = schema.get("example") {
            return Ok(example.clone());
        }
        if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
            return Ok(first.clone());
        }
        if let Some(first) = schema
            .get("oneOf")
            .and_then(|o| o.as_array())
            .and_then(|o| {
                o.iter()
                    .find(|a| a.get("type") != Some(&Value::String("null".into())))
            })
        {
            return self.example(first, at, stack);
        }
        let kind = match schema.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ => "null",
        };
        Ok(match kind {
            "object" => {
                let mut object = Map::new();
                let properties = schema.get("properties").and_then(Value::as_object);
                for name in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let property = properties.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
                    object.insert(name.to_owned(), self.example(property, at, stack)?);
                }
                Value::Object(object)
            }
            "array" => Value::Array(vec![self.example(
                schema.get("items").unwrap_or(&Value::Null),
                at,
                stack,
            )?]),
            "string" => Value::String(
                match schema.get("format").and_then(Value::as_str) {
                    Some("date-time") => "2024-01-01T00:00:00Z",
                    Some("date") => "2024-01-01",
                    _ => "text",
                }
                .into(),
            ),
            "integer" | "number" => schema.get("minimum").cloned().unwrap_or(Value::from(1)),
            "boolean" => Value::Bool(true),
            _ => Value::Null,
        })
    }
}

/// The `$ref` target name of a schema that is only a reference.
fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix(SCHEMA_REF)
}

/// The (media type, schema) pairs of a request body's or response's `content`.
fn media_types(holder: &Value) -> impl Iterator<Item = (&str, &Value)> {
    holder
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(media, body)| (media.as_str(), body.get("schema").unwrap_or(&Value::Null)))
}

/// A JSON value as a reader wants to see it: strings without their quotes.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn committed() -> Value {
        serde_json::from_str(crate::openapi::json()).expect("openapi.json is JSON")
    }

    /// The part of the page about one operation: from its heading to the next one.
    fn section<'p>(page: &'p str, method: &str, path: &str) -> &'p str {
        let start = page
            .find(&format!("<h3 id=\"{}\">", anchor(method, path)))
            .unwrap_or_else(|| panic!("{method} {path} has a heading"));
        let rest = &page[start..];
        let end = rest.find("</article>").expect("the operation ends");
        &rest[..end]
    }

    /// Every `$ref` name reachable from a schema.
    fn reachable(document: &Value, schema: &Value, seen: &mut BTreeSet<String>) {
        match schema {
            Value::Object(map) => {
                if let Some(name) = ref_name(schema)
                    && seen.insert(name.to_owned())
                {
                    let target = &document["components"]["schemas"][name];
                    reachable(document, target, seen);
                }
                for value in map.values() {
                    reachable(document, value, seen);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| reachable(document, v, seen)),
            _ => {}
        }
    }

    fn enum_values(schema: &Value, out: &mut Vec<String>) {
        match schema {
            Value::Object(map) => {
                if let Some(values) = map.get("enum").and_then(Value::as_array) {
                    out.extend(values.iter().map(scalar));
                }
                map.values().for_each(|v| enum_values(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| enum_values(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_page_lists_every_operation_of_the_document_with_its_parameters_and_enums() {
        let document = committed();
        let page = render(&document).expect("the committed document renders");
        let mut operations = 0;
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("a path item") {
                operations += 1;
                let text = section(&page, method, path);
                assert!(
                    text.contains(&format!(
                        "{}</span> <code>{}</code>",
                        method.to_uppercase(),
                        escape(path)
                    )),
                    "{method} {path}: method and path in the heading"
                );
                assert!(
                    page.contains(&format!("<a href=\"#{}\">", anchor(method, path))),
                    "{method} {path}: in the contents"
                );
                let mut expected_enums = Vec::new();
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let name = parameter["name"].as_str().expect("a name");
                    assert!(
                        text.contains(&format!("<code>{name}</code>")),
                        "{method} {path}: parameter {name}"
                    );
                    if let Some(pattern) = parameter["schema"]["pattern"].as_str() {
                        assert!(
                            text.contains(&escape(pattern)),
                            "{method} {path}: {pattern}"
                        );
                    }
                    enum_values(&parameter["schema"], &mut expected_enums);
                }
                // The enums of the request body and of the successful responses' schemas.
                let mut names = BTreeSet::new();
                reachable(&document, &operation["requestBody"], &mut names);
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    if status.starts_with('2') {
                        reachable(&document, response, &mut names);
                    }
                }
                for name in &names {
                    enum_values(
                        &document["components"]["schemas"][name],
                        &mut expected_enums,
                    );
                }
                for value in expected_enums {
                    assert!(
                        text.contains(&format!("<code>{}</code>", escape(&value))),
                        "{method} {path}: enum value {value}"
                    );
                }
                if operation.get("security").is_some() {
                    assert!(text.contains("Bearer $API_KEY"), "{method} {path}: key");
                }
                assert!(text.contains("curl"), "{method} {path}: an example");
            }
        }
        assert!(
            operations >= 15,
            "the document has its operations ({operations})"
        );
        assert!(page.contains("href=\"/openapi.json\""));
        assert!(!page.contains("<script"), "the page needs no script");
    }

    #[test]
    fn every_json_body_in_the_examples_is_json_the_schema_names() {
        let document = committed();
        let page = render(&document).expect("renders");
        let mut bodies = 0;
        for chunk in page.split(" -d &#39;").skip(1) {
            let body = chunk.split("&#39;").next().expect("a closing quote");
            let body = body.replace("&quot;", "\"").replace("&amp;", "&");
            let value: Value = serde_json::from_str(&body).expect("the example body is JSON");
            assert!(value.is_object(), "{body}");
            bodies += 1;
        }
        assert!(bodies >= 3, "the JSON writes have bodies ({bodies})");
    }

    fn tiny(schemas: &Value, description: &str) -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1", "description": description},
            "paths": {"/things/{id}": {"get": {
                "tags": ["things"],
                "summary": "One <thing> & `its <code>`",
                "parameters": [{"name": "id", "in": "path", "required": true,
                    "description": "Say \"hi\" <b>",
                    "schema": {"type": "string", "enum": ["a<b", "c"]}}],
                "responses": {"200": {"description": "ok", "content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/A"}}}}}
            }}},
            "components": {"schemas": schemas}
        })
    }

    #[test]
    fn descriptions_enums_and_code_spans_are_html_escaped() {
        let document = tiny(
            &json!({"A": {"type": "object", "properties": {"x": {"type": "string",
                "description": "<script>alert(1)</script>"}}}}),
            "Intro with <i>markup</i> & `a<b>`",
        );
        let page = render(&document).expect("renders");
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<i>") && !page.contains("<b>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            page.contains("Intro with &lt;i&gt;markup&lt;/i&gt; &amp; <code>a&lt;b&gt;</code>")
        );
        assert!(page.contains("One &lt;thing&gt; &amp; <code>its &lt;code&gt;</code>"));
        assert!(page.contains("Say &quot;hi&quot; &lt;b&gt;"));
        assert!(page.contains("<code>a&lt;b</code>, <code>c</code>"));
        // The path example falls back to the first enum value, escaped in the curl line.
        assert!(
            page.contains("curl &quot;$API/things/a&lt;b&quot;"),
            "{page}"
        );
    }

    #[test]
    fn a_ref_cycle_fails_with_the_chain_of_schemas() {
        let document = tiny(
            &json!({
                "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"type": "array", "items": {"$ref": "#/components/schemas/A"}}
            }),
            "",
        );
        let error = render(&document)
            .expect_err("a cycle cannot be listed")
            .to_string();
        assert!(error.contains("$ref cycle"), "{error}");
        assert!(error.contains("A → B → A"), "{error}");
    }

    #[test]
    fn an_unknown_ref_fails_naming_the_ref_and_where_it_is() {
        let document = tiny(
            &json!({"A": {"type": "object", "properties": {
                "c": {"$ref": "#/components/schemas/Missing"}}}}),
            "",
        );
        let error = render(&document).expect_err("unknown").to_string();
        assert!(
            error.contains("unknown $ref #/components/schemas/Missing in schema A"),
            "{error}"
        );
        let document = tiny(
            &json!({"A": {"type": "object", "properties": {
                "c": {"$ref": "other.json#/A"}}}}),
            "",
        );
        let error = render(&document).expect_err("outside").to_string();
        assert!(error.contains("unknown $ref other.json#/A"), "{error}");
    }
}
