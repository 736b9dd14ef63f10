// Just enough JSON for a workflow without dependencies: a parser for payloads and the host's
// responses, and an escaper for building output by concatenation.

export enum JsonKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** A parsed JSON value. Objects keep their members in order (`keys[i]` names `items[i]`). */
export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  number: f64 = 0;
  text: string = "";
  keys: string[] = [];
  items: JsonValue[] = [];

  constructor(kind: JsonKind) {
    this.kind = kind;
  }

  /** The first member named `key` of an object; null for anything else. */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }

  /** The member `key` as a string, or `fallback` when missing or not a string. */
  getString(key: string, fallback: string = ""): string {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.String ? v.text : fallback;
  }

  /** The member `key` as an integer, or `fallback` when missing or not a number. */
  getInt(key: string, fallback: i64 = 0): i64 {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.Number ? <i64>v.number : fallback;
  }

  /** The member `key` as a boolean, or `fallback` when missing or not a boolean. */
  getBool(key: string, fallback: bool = false): bool {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.Bool ? v.bool : fallback;
  }
}

/** Parses one JSON value (surrounding whitespace allowed); null if the text is not JSON. */
export function parseJson(text: string): JsonValue | null {
  const parser = new Parser(text);
  const value = parser.value();
  if (value === null) return null;
  parser.whitespace();
  return parser.at == text.length ? value : null;
}

/** `text` as a JSON string literal, quotes included. */
export function quote(text: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let escape: string | null = null;
    if (c == 0x22) escape = '\\"';
    else if (c == 0x5c) escape = "\\\\";
    else if (c == 0x0a) escape = "\\n";
    else if (c == 0x0d) escape = "\\r";
    else if (c == 0x09) escape = "\\t";
    else if (c < 0x20) escape = "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    if (escape !== null) {
      out += text.substring(start, i) + escape;
      start = i + 1;
    }
  }
  return out + text.substring(start) + '"';
}

const MAX_DEPTH = 64;

class Parser {
  at: i32 = 0;
  depth: i32 = 0;

  constructor(public text: string) {}

  whitespace(): void {
    while (this.at < this.text.length) {
      const c = this.text.charCodeAt(this.at);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.at++;
    }
  }

  peek(): i32 {
    return this.at < this.text.length ? this.text.charCodeAt(this.at) : -1;
  }

  value(): JsonValue | null {
    this.whitespace();
    const c = this.peek();
    if (c == 0x7b /* { */ || c == 0x5b /* [ */) {
      if (++this.depth > MAX_DEPTH) return null;
      this.at++;
      const nested = c == 0x7b ? this.object() : this.array();
      this.depth--;
      return nested;
    }
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      const v = new JsonValue(JsonKind.String);
      v.text = s;
      return v;
    }
    if (this.literal("true")) {
      const v = new JsonValue(JsonKind.Bool);
      v.bool = true;
      return v;
    }
    if (this.literal("false")) return new JsonValue(JsonKind.Bool);
    if (this.literal("null")) return new JsonValue(JsonKind.Null);
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.numberValue();
    return null;
  }

  literal(word: string): bool {
    if (this.text.substr(this.at, word.length) != word) return false;
    this.at += word.length;
    return true;
  }

  object(): JsonValue | null {
    const v = new JsonValue(JsonKind.Object);
    this.whitespace();
    if (this.peek() == 0x7d) {
      this.at++;
      return v;
    }
    while (true) {
      this.whitespace();
      if (this.peek() != 0x22) return null;
      const key = this.string();
      if (key === null) return null;
      this.whitespace();
      if (this.peek() != 0x3a) return null;
      this.at++;
      const item = this.value();
      if (item === null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.whitespace();
      const c = this.peek();
      this.at++;
      if (c == 0x7d) return v;
      if (c != 0x2c) return null;
    }
    return null;
  }

  array(): JsonValue | null {
    const v = new JsonValue(JsonKind.Array);
    this.whitespace();
    if (this.peek() == 0x5d) {
      this.at++;
      return v;
    }
    while (true) {
      const item = this.value();
      if (item === null) return null;
      v.items.push(item);
      this.whitespace();
      const c = this.peek();
      this.at++;
      if (c == 0x5d) return v;
      if (c != 0x2c) return null;
    }
    return null;
  }

  numberValue(): JsonValue | null {
    const start = this.at;
    while (this.at < this.text.length) {
      const c = this.text.charCodeAt(this.at);
      if (!((c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45)) break;
      this.at++;
    }
    const n = parseFloat(this.text.substring(start, this.at));
    if (isNaN(n)) return null;
    const v = new JsonValue(JsonKind.Number);
    v.number = n;
    return v;
  }

  hex4(): i32 {
    if (this.at + 4 > this.text.length) return -1;
    let code = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.text.charCodeAt(this.at + i);
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) return -1;
      code = code * 16 + d;
    }
    this.at += 4;
    return code;
  }

  // AssemblyScript strings are UTF-16, like JSON's \u escapes: a surrogate pair stays two units.
  string(): string | null {
    this.at++; // the opening quote
    let out = "";
    let start = this.at;
    while (this.at < this.text.length) {
      const c = this.text.charCodeAt(this.at);
      if (c == 0x22) {
        out += this.text.substring(start, this.at);
        this.at++;
        return out;
      }
      if (c < 0x20) return null;
      if (c != 0x5c) {
        this.at++;
        continue;
      }
      out += this.text.substring(start, this.at);
      this.at++;
      const e = this.peek();
      this.at++;
      if (e == 0x22) out += '"';
      else if (e == 0x5c) out += "\\";
      else if (e == 0x2f) out += "/";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x6e) out += "\n";
      else if (e == 0x72) out += "\r";
      else if (e == 0x74) out += "\t";
      else if (e == 0x75) {
        const code = this.hex4();
        if (code < 0) return null;
        out += String.fromCharCode(code);
      } else return null;
      start = this.at;
    }
    return null;
  }
}
