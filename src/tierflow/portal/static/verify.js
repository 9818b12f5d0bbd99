/**
 * verify.js: checks a tierflow inclusion receipt against a signed checkpoint, in the browser.
 *
 * Why the browser is the verifier.  A receipt shown by the portal proves nothing if the portal also says
 * whether it is valid: a dishonest or compromised server could simply say "verified".  This module runs on
 * the auditor's own machine, with only the browser's WebCrypto (SHA-256 and Ed25519), no dependency and no
 * network request, against the platform verifier key that the auditor pins (obtained independently, for
 * instance from the operator's published documents).  The result then depends on that key and on
 * mathematics, not on the server.
 *
 * What is checked, in this order (the same checks, messages and order as the Python reference,
 * tierflow.ledger.verify.verify_receipt, so both accept and reject the same inputs; JavaScript numbers
 * limit indices and sizes to 2^53 - 1, and a receipt given as text is parsed as JSON first):
 *
 *   1. The verifier keys parse: "name+hexkeyid+base64(type || public key)", the key id being the first four
 *      bytes of SHA-256(name || 0x0A || type || public key).  The platform key must be Ed25519 (type 0x01);
 *      witness keys must be tlog-cosignature/v1 keys (type 0x04), which is why a witness's key id differs
 *      from the id of the same Ed25519 key used as a plain note signer.
 *   2. The checkpoint is a well-formed C2SP signed note (text, blank line, lines "— name base64(keyid ||
 *      signature)"), and the platform's Ed25519 signature over the note text verifies.  Lines from unknown
 *      keys are ignored (the signed-note specification requires it); a line that claims the platform key
 *      but does not verify rejects the note.
 *   3. The note text is a C2SP checkpoint: origin, tree size (decimal, no leading zeros), base64 root hash
 *      (32 bytes), optional extension lines.
 *   4. Witness cosignatures (value = key id || uint64 big-endian timestamp || Ed25519 signature of
 *      "cosignature/v1\ntime <timestamp>\n" + checkpoint text) from the given witness keys are checked;
 *      at least minCosignatures distinct witnesses must verify (two lines by one witness count once, where
 *      the Python reference counts lines).  Doing this before the proof means a checkpoint that too few
 *      witnesses vouch for is refused however good the proof is.
 *   5. The receipt is for the checkpoint's tree size, its leaf and proof hashes are strict base64.
 *   6. RFC 9162 section 2.1.3.2: from the leaf hash SHA-256(0x00 || leaf) and the proof (node hash
 *      SHA-256(0x01 || left || right)), the recomputed root must equal the signed root.  The proof length
 *      is checked first so that a short or long proof gets a precise reason.
 *   7. The leaf is a canonical journal entry (RFC 8785 JSON, no floats, the expected fields), whose kind,
 *      actor and time are then shown.  (The actor's command signature needs the actor's key history, which
 *      only the full journal gives: `tierflow verify EXPORT` checks that offline.)
 *
 * Base64 is the standard alphabet with padding and must be canonical (re-encoding gives the input back).
 * WebCrypto exists only in secure contexts: on plain http (other than localhost) every check refuses with
 * an error saying so, rather than pretending.
 *
 * The page part is small: wire(form) makes a form with fields receipt, checkpoint, vkey, witness_vkeys and
 * min_cosignatures check in the browser instead of posting, writing the outcome into #verify-result;
 * every form[data-verify-receipt] is wired when the module loads.
 */

export const ED25519_TYPE = 0x01;
export const COSIGNATURE_TYPE = 0x04;
export const HASH_SIZE = 32;
export const MAX_SIGNATURES = 100;
export const MAX_NOTE_BYTES = 1 << 20;

const EM_DASH = "\u2014";
const MAX_INT63 = (1n << 63n) - 1n;
const ENTRY_FIELDS = ["at", "command", "effects", "id", "kind", "signature", "v"];
const COMMAND_FIELDS = ["actor", "body", "issued_at", "kind", "nonce"];
const RFC3339_UTC = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?Z$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8 = new TextEncoder();

// --------------------------------------------------------------------------------------------- errors

/** Any failed check; `check` names the stage ("environment", "checkpoint", "proof", "entry"). */
export class VerificationError extends Error {
  constructor(message, check = "verification") {
    super(message);
    this.name = "VerificationError";
    this.check = check;
    /** Human-readable steps that passed before this failure (set by verifyReceipt). */
    this.steps = [];
  }
}

/** The browser cannot verify at all (no WebCrypto: insecure page, or no Ed25519 support). */
export class EnvironmentError extends VerificationError {
  constructor(message) {
    super(message, "environment");
    this.name = "EnvironmentError";
  }
}

/** A verifier key, the signed note, the checkpoint or the cosignatures (Python: NoteError). */
export class NoteError extends VerificationError {
  constructor(message) {
    super(message, "checkpoint");
    this.name = "NoteError";
  }
}

/** The receipt's fields or its inclusion proof (Python: ProofError). */
export class ProofError extends VerificationError {
  constructor(message) {
    super(message, "proof");
    this.name = "ProofError";
  }
}

/** The leaf is not a well-formed journal entry (Python: EnvelopeError). */
export class EnvelopeError extends VerificationError {
  constructor(message) {
    super(message, "entry");
    this.name = "EnvelopeError";
  }
}

// --------------------------------------------------------------------------------------------- bytes

function subtle() {
  const api = globalThis.crypto && globalThis.crypto.subtle;
  if (!api) {
    throw new EnvironmentError(
      "Verification needs HTTPS or localhost: this browser offers WebCrypto (crypto.subtle), which checks " +
        "the hashes and signatures, only on secure pages. Open this page over HTTPS, or check the receipt " +
        "offline with `tierflow verify`.",
    );
  }
  return api;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Lowercase hex of a byte array. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Standard base64 with padding. */
export function b64encode(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Strict standard base64 (with padding), as the Python `b64d`: anything else, or a non-canonical
 * encoding (non-zero trailing bits), throws a plain Error "invalid base64: ...".
 * @param {string} text
 * @returns {Uint8Array}
 */
export function b64decode(text) {
  if (typeof text !== "string") throw new Error("base64 value must be a string");
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new Error("invalid base64: only the standard alphabet with '=' padding to a multiple of 4 is allowed");
  }
  const binary = atob(text);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (b64encode(bytes) !== text) throw new Error("invalid base64: non-canonical encoding");
  return bytes;
}

/** Decodes base64, turning a failure into `ErrorClass("<what>: invalid base64: ...")`. */
function decodeAs(text, ErrorClass, what) {
  try {
    return b64decode(text);
  } catch (error) {
    throw new ErrorClass(`${what}: ${error.message}`);
  }
}

async function sha256(...parts) {
  return new Uint8Array(await subtle().digest("SHA-256", concat(...parts)));
}

/** true iff `signature` is `publicKey`'s Ed25519 signature of `message`. */
async function ed25519Verify(publicKey, signature, message) {
  let key;
  try {
    key = await subtle().importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (error) {
    if (error && error.name === "NotSupportedError") {
      throw new EnvironmentError("This browser's WebCrypto has no Ed25519, so it cannot check signatures; use a current browser.");
    }
    return false; // a malformed public key verifies nothing
  }
  try {
    return await subtle().verify({ name: "Ed25519" }, key, signature, message);
  } catch {
    return false;
  }
}

// --------------------------------------------------------------------------------------------- Merkle

/** RFC 9162 leaf hash: SHA-256(0x00 || data). @returns {Promise<Uint8Array>} */
export async function leafHash(data) {
  return sha256(Uint8Array.of(0), data);
}

/** RFC 9162 interior node hash: SHA-256(0x01 || left || right). */
export async function nodeHash(left, right) {
  return sha256(Uint8Array.of(1), left, right);
}

function toBigInt(value, what) {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  throw new ProofError(`${what} must be an integer`);
}

function checkHash(name, value) {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    const n = value && value.length !== undefined ? value.length : 0;
    throw new ProofError(`${name} has ${n} bytes, expected ${HASH_SIZE}`);
  }
}

/** Number of hashes in RFC 9162 PATH(index, D[0:size]). */
function inclusionPathLength(index, size) {
  let lo = 0n;
  let hi = size;
  let count = 0;
  while (hi - lo > 1n) {
    let k = 1n;
    while (k * 2n < hi - lo) k *= 2n;
    if (index < lo + k) hi = lo + k;
    else lo += k;
    count++;
  }
  return count;
}

/**
 * RFC 9162 section 2.1.3.2: checks that `leaf` (a leaf *hash*) is at `index` in the tree of `size` leaves
 * whose root is `root`.  Index and size are integers or BigInts; hashes are 32-byte Uint8Arrays.
 * Resolves to nothing; throws ProofError naming the failed check.
 */
export async function verifyInclusion(leaf, index, size, proof, root) {
  const fn0 = toBigInt(index, "index");
  const size0 = toBigInt(size, "tree size");
  if (size0 <= 0n) throw new ProofError(`tree size ${size0} has no leaves`);
  if (fn0 < 0n || fn0 >= size0) throw new ProofError(`index ${fn0} out of range for tree size ${size0}`);
  checkHash("leaf hash", leaf);
  checkHash("root hash", root);
  if (!Array.isArray(proof)) throw new ProofError("proof must be a list of hashes");
  const expected = inclusionPathLength(fn0, size0);
  if (proof.length !== expected) throw new ProofError(`proof has ${proof.length} hashes, expected ${expected}`);
  proof.forEach((p, i) => checkHash(`proof hash ${i}`, p));
  let fn = fn0;
  let sn = size0 - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new ProofError("proof is longer than the path to the root");
    if (fn & 1n || fn === sn) {
      r = await nodeHash(p, r);
      if (!(fn & 1n)) {
        while (fn && !(fn & 1n)) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError("proof is shorter than the path to the root");
  if (!equalBytes(r, root)) throw new ProofError("computed root does not match");
}

// --------------------------------------------------------------------------------------------- signed notes

function checkName(name) {
  if (typeof name !== "string" || !name || /[\s+\x00-\x1f\x85]/u.test(name)) {
    throw new NoteError(`invalid key name ${JSON.stringify(name)}: must be non-empty, without spaces or '+'`);
  }
}

async function keyId(name, type, publicKey) {
  return (await sha256(utf8.encode(name), Uint8Array.of(0x0a, type), publicKey)).slice(0, 4);
}

function cosignedMessage(text, timestamp) {
  return concat(utf8.encode(`cosignature/v1\ntime ${timestamp}\n`), text);
}

/**
 * Parses a verifier key "name+hexkeyid+base64(type || public key)" and checks its key id.  `type` is
 * ED25519_TYPE (0x01, the platform's note signature) or COSIGNATURE_TYPE (0x04, a witness's
 * tlog-cosignature/v1).  Resolves to a verifier {name, type, publicKey, keyId, keyIdHex, verify(text,
 * signature) -> Promise<boolean>} where `signature` excludes the 4-byte key id.  Throws NoteError.
 * @param {string} vkey
 * @param {number} [type=ED25519_TYPE]
 */
export async function parseVerifierKey(vkey, type = ED25519_TYPE) {
  if (typeof vkey !== "string") throw new NoteError("verifier key must be text");
  const text = vkey.trim();
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1); // base64 may itself contain '+'
  if (second < 0) throw new NoteError("verifier key must have the form name+keyid+base64key");
  const name = text.slice(0, first);
  const hexId = text.slice(first + 1, second);
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new NoteError("verifier key id must be 8 lowercase hex digits");
  const material = decodeAs(text.slice(second + 1), NoteError, "verifier key");
  if (material.length < 2) throw new NoteError("verifier key material is empty");
  const keyType = material[0];
  const publicKey = material.slice(1);
  const id = await keyId(name, keyType, publicKey);
  if (toHex(id) !== hexId) throw new NoteError("verifier key id does not match the key");
  const hexType = `0x${keyType.toString(16).padStart(2, "0")}`;
  if (type === COSIGNATURE_TYPE && keyType !== COSIGNATURE_TYPE) {
    throw new NoteError(`verifier key type ${hexType} is not a cosignature/v1 key (0x04)`);
  }
  if (type !== COSIGNATURE_TYPE && keyType !== ED25519_TYPE) {
    throw new NoteError(`verifier key type ${hexType} is not Ed25519 (0x01)`);
  }
  if (publicKey.length !== 32) {
    throw new NoteError(`Ed25519 public key has ${publicKey.length} bytes, expected 32`);
  }
  const verify =
    keyType === ED25519_TYPE
      ? async (message, signature) => signature.length === 64 && ed25519Verify(publicKey, signature, message)
      : async (message, signature) => {
          if (signature.length !== 72) return false;
          const timestamp = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0);
          if (timestamp > MAX_INT63) return false;
          return ed25519Verify(publicKey, signature.slice(8), cosignedMessage(message, timestamp));
        };
  return { name, type: keyType, publicKey, keyId: id, keyIdHex: hexId, verify };
}

/** parseVerifierKey for a witness's tlog-cosignature/v1 key (type 0x04). */
export async function parseWitnessKey(vkey) {
  return parseVerifierKey(vkey, COSIGNATURE_TYPE);
}

function parseSignatureLine(line) {
  const prefix = `${EM_DASH} `;
  if (!line.startsWith(prefix)) {
    throw new NoteError(`signature line does not start with an em dash and a space: ${JSON.stringify(line.slice(0, 40))}`);
  }
  const parts = line.slice(prefix.length).split(" ");
  if (parts.length !== 2) throw new NoteError("signature line must be '\u2014 <name> <base64>'");
  const [name, encoded] = parts;
  checkName(name);
  const raw = decodeAs(encoded, NoteError, `signature by ${name}`);
  if (raw.length < 5) throw new NoteError(`signature by ${name} is too short`);
  return { name, keyId: raw.slice(0, 4), keyIdHex: toHex(raw.slice(0, 4)), signature: raw.slice(4), line };
}

/**
 * Splits a C2SP signed note into its text (up to and including the newline before the last blank line)
 * and its parsed signature lines {name, keyId, keyIdHex, signature, line}.  Checks no signature.
 * Throws NoteError.
 * @param {string} note
 */
export function parseNote(note) {
  if (typeof note !== "string") throw new NoteError("checkpoint note must be text");
  if (utf8.encode(note).length > MAX_NOTE_BYTES) throw new NoteError("note is too large");
  if (/[\x00-\x09\x0b-\x1f]/.test(note)) throw new NoteError("note contains a control character");
  if (LONE_SURROGATE.test(note)) throw new NoteError("note is not valid UTF-8");
  if (!note.endsWith("\n")) throw new NoteError("note does not end with a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("note has no signature block (missing blank line)");
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  const lines = block ? block.slice(0, -1).split("\n") : [];
  if (!lines.length) throw new NoteError("note has no signatures");
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`note has more than ${MAX_SIGNATURES} signatures`);
  return { text, signatures: lines.map(parseSignatureLine) };
}

function findVerifier(verifiers, sig) {
  return verifiers.find((v) => v.name === sig.name && v.keyIdHex === sig.keyIdHex) || null;
}

/**
 * Opens a signed note, as the Python `open_note`: at least one signature from `verifiers` (required keys)
 * must verify and none of theirs may fail; signatures from `knownCosigners` are verified and reported;
 * other lines are kept with known = false.  Resolves to {text, signatures: [{name, keyIdHex, verified,
 * known, required, timestamp, line}]} (timestamp: a verified cosignature's, else null).  Throws NoteError.
 * @param {string} note
 * @param {object|object[]} verifiers from parseVerifierKey
 * @param {{knownCosigners?: object[]}} [options]
 */
export async function verifySignedNote(note, verifiers, { knownCosigners = [] } = {}) {
  const required = Array.isArray(verifiers) ? verifiers : [verifiers];
  if (!required.length) throw new NoteError("no verifier given");
  const { text, signatures } = parseNote(note);
  const payload = utf8.encode(text);
  const out = [];
  let requiredOk = false;
  for (const sig of signatures) {
    const mandatory = findVerifier(required, sig);
    const verifier = mandatory || findVerifier(knownCosigners, sig);
    const verified = verifier !== null && (await verifier.verify(payload, sig.signature));
    if (mandatory && !verified) throw new NoteError(`signature by ${sig.name} (${sig.keyIdHex}) does not verify`);
    requiredOk = requiredOk || mandatory !== null;
    let timestamp = null;
    if (verified && verifier.type === COSIGNATURE_TYPE) {
      timestamp = Number(new DataView(sig.signature.buffer, sig.signature.byteOffset, 8).getBigUint64(0));
    }
    out.push({ name: sig.name, keyIdHex: sig.keyIdHex, verified, known: verifier !== null, required: !!mandatory, timestamp, line: sig.line });
  }
  if (!requiredOk) {
    const names = [...new Set(required.map((v) => v.name))].sort().join(", ");
    throw new NoteError(`note has no signature from ${names}`);
  }
  return { text, signatures: out };
}

/**
 * Parses a C2SP checkpoint body "origin\nsize\nbase64 root\n[extension lines]".  Resolves to
 * {origin, size (BigInt), root (Uint8Array), rootB64, extensions}.  Throws NoteError.
 * @param {string} text
 */
export function parseCheckpointBody(text) {
  if (!text.endsWith("\n")) throw new NoteError("checkpoint body does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new NoteError("checkpoint body has fewer than three lines");
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (!/^(?:0|[1-9][0-9]*)$/.test(sizeLine)) {
    throw new NoteError(`checkpoint size ${JSON.stringify(sizeLine)} is not a decimal without leading zeros`);
  }
  const root = decodeAs(rootLine, NoteError, "checkpoint root");
  if (!origin) throw new NoteError("checkpoint origin must be a non-empty single line");
  const size = BigInt(sizeLine);
  if (size > MAX_INT63) throw new NoteError(`checkpoint size ${size} out of range`);
  if (root.length !== HASH_SIZE) throw new NoteError(`checkpoint root has ${root.length} bytes, expected ${HASH_SIZE}`);
  if (extensions.some((line) => !line)) throw new NoteError("checkpoint extension lines must be non-empty single lines");
  return { origin, size, root, rootB64: rootLine, extensions };
}

// --------------------------------------------------------------------------------------------- journal entries

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** RFC 8785 bytes of a parsed JSON value (integers only), as text. */
function canonicalJson(value) {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new EnvelopeError(`leaf is not JSON without floats: float ${value} is not allowed`);
    if (!Number.isSafeInteger(value)) throw new EnvelopeError(`leaf is not canonical JSON: integer ${value} is out of range`);
    return JSON.stringify(value);
  }
  if (typeof value === "string") {
    if (LONE_SURROGATE.test(value)) throw new EnvelopeError("leaf is not canonical JSON: a string has a lone surrogate");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  // RFC 8785 orders members by UTF-16 code units, which is what Array.prototype.sort does for strings.
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

function pyList(names) {
  return `[${names.map((n) => `'${n}'`).join(", ")}]`;
}

function nonEmptyString(obj, key, what) {
  if (typeof obj[key] !== "string" || !obj[key]) throw new EnvelopeError(`${what} field '${key}' must be a non-empty string`);
}

function checkTimestamp(text) {
  const m = typeof text === "string" ? RFC3339_UTC.exec(text) : null;
  if (!m) throw new EnvelopeError(`timestamp ${JSON.stringify(text)} is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.f]Z)`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const days = [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > days[month - 1] || hour > 23 || minute > 59 || second > 59) {
    throw new EnvelopeError(`timestamp ${JSON.stringify(text)} is not a valid date and time`);
  }
}

function validateCommand(command) {
  if (!isObject(command)) throw new EnvelopeError("command must be a JSON object");
  const keys = Object.keys(command);
  const missing = COMMAND_FIELDS.filter((k) => !keys.includes(k));
  const extra = keys.filter((k) => !COMMAND_FIELDS.includes(k)).sort();
  if (missing.length || extra.length) throw new EnvelopeError(`command fields wrong: missing ${pyList(missing)}, unexpected ${pyList(extra)}`);
  for (const key of ["kind", "actor", "nonce"]) nonEmptyString(command, key, "command");
  checkTimestamp(command.issued_at);
  if (!isObject(command.body)) throw new EnvelopeError("command body must be a JSON object");
}

/**
 * Strictly parses leaf bytes as a journal entry, as the Python `parse_leaf`: UTF-8 JSON without floats,
 * exactly the fields v, id, kind, at, command, signature, effects, in canonical (RFC 8785) form.
 * Returns the parsed object.  Throws EnvelopeError.  (The command signature is not checked here.)
 * @param {Uint8Array} raw
 */
export function parseLeaf(raw) {
  let obj;
  try {
    obj = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(raw));
  } catch (error) {
    throw new EnvelopeError(`leaf is not JSON without floats: ${error.message}`);
  }
  if (!isObject(obj)) throw new EnvelopeError("leaf is not a JSON object");
  const keys = Object.keys(obj).sort();
  if (keys.join("\n") !== ENTRY_FIELDS.join("\n")) throw new EnvelopeError(`leaf fields wrong: ${pyList(keys)}`);
  if (obj.v !== 1) throw new EnvelopeError(`unsupported leaf version ${JSON.stringify(obj.v)}`);
  let canonical;
  try {
    canonical = canonicalJson(obj);
  } catch (error) {
    if (error instanceof EnvelopeError) throw error;
    throw new EnvelopeError(`leaf is not canonical JSON: ${error.message}`);
  }
  if (!equalBytes(utf8.encode(canonical), raw)) throw new EnvelopeError("leaf bytes are not in canonical form");
  for (const key of ["id", "kind", "signature"]) nonEmptyString(obj, key, "leaf");
  checkTimestamp(obj.at);
  validateCommand(obj.command);
  if (!isObject(obj.effects)) throw new EnvelopeError("leaf effects must be a JSON object");
  return obj;
}

// --------------------------------------------------------------------------------------------- receipts

function witnessLines(witnessVkeys) {
  const list = typeof witnessVkeys === "string" ? witnessVkeys.split("\n") : Array.from(witnessVkeys || []);
  return list.map((v) => String(v).trim()).filter(Boolean);
}

function formatTime(seconds) {
  const ms = seconds * 1000;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().replace(".000Z", "Z") : String(seconds);
}

/**
 * Checks an inclusion receipt against a signed checkpoint and the pinned platform key (see the header for
 * the checks and their order).
 *
 * @param {object|string} receipt {index, tree_size, leaf (base64), proof: [base64]} (as from
 *   GET /v1/events/{id}/receipt; other fields are ignored), or its JSON text
 * @param {string} checkpointNote the signed checkpoint note (possibly cosigned)
 * @param {string} platformVkey the platform's Ed25519 verifier key, pinned by the auditor
 * @param {{witnessVkeys?: string[]|string, minCosignatures?: number}} [options] witness cosignature/v1 keys
 *   (a list or one per line) and how many distinct witnesses must have cosigned
 * @returns {Promise<{ok: true, origin: string, treeSize: number, root: string, index: number,
 *   leafHash: string, entry: object, cosigners: string[], cosignatures: object[], steps: string[]}>}
 * @throws {VerificationError} a NoteError, ProofError, EnvelopeError or EnvironmentError whose message
 *   names the failed check and whose `steps` lists the checks that passed before it
 */
export async function verifyReceipt(receipt, checkpointNote, platformVkey, { witnessVkeys = [], minCosignatures = 0 } = {}) {
  const steps = [];
  try {
    return await runChecks(steps, receipt, checkpointNote, platformVkey, witnessVkeys, minCosignatures);
  } catch (error) {
    const failure = error instanceof VerificationError ? error : new VerificationError(String((error && error.message) || error));
    failure.steps = steps;
    throw failure;
  }
}

async function runChecks(steps, receipt, checkpointNote, platformVkey, witnessVkeys, minCosignatures) {
  subtle(); // refuse at once, and clearly, where WebCrypto is missing
  if (typeof receipt === "string") {
    try {
      receipt = JSON.parse(receipt);
    } catch (error) {
      throw new ProofError(`receipt is not valid JSON: ${error.message}`);
    }
  }
  if (!isObject(receipt)) throw new ProofError("the receipt must be a JSON object");
  if (!Number.isSafeInteger(minCosignatures) || minCosignatures < 0) {
    throw new NoteError("the number of required cosignatures must be a non-negative integer");
  }

  // 1. Keys.
  const witnesses = [];
  for (const line of witnessLines(witnessVkeys)) witnesses.push(await parseWitnessKey(line));
  const platform = await parseVerifierKey(platformVkey);
  steps.push(`Pinned platform key ${platform.name} parsed (Ed25519, key id ${platform.keyIdHex} matches the key).`);
  if (witnesses.length) steps.push(`Witness keys parsed: ${witnesses.map((w) => `${w.name} (${w.keyIdHex})`).join(", ")}.`);

  // 2-3. The platform's signature, then the checkpoint body.
  const opened = await verifySignedNote(checkpointNote, [platform], { knownCosigners: witnesses });
  steps.push(`Checkpoint signature by ${platform.name} (${platform.keyIdHex}) checks out against the pinned key.`);
  const checkpoint = parseCheckpointBody(opened.text);
  steps.push(`Checkpoint of ${checkpoint.origin}: tree size ${checkpoint.size}, root ${checkpoint.rootB64}.`);

  // 4. Witness cosignatures.
  const cosignatures = opened.signatures.filter((s) => !s.required);
  const cosigners = [];
  for (const c of cosignatures) {
    if (!c.known) steps.push(`Signature line by ${c.name} (${c.keyIdHex}) is from no key given here: ignored.`);
    else if (!c.verified) steps.push(`Cosignature by ${c.name} (${c.keyIdHex}) does NOT verify: not counted.`);
    else {
      steps.push(`Cosignature by witness ${c.name} (${c.keyIdHex}), made at ${formatTime(c.timestamp)}, checks out.`);
      if (!cosigners.includes(c.name)) cosigners.push(c.name);
    }
  }
  if (cosigners.length < minCosignatures) {
    throw new NoteError(`checkpoint has ${cosigners.length} valid cosignatures, ${minCosignatures} required`);
  }
  if (minCosignatures > 0 || witnesses.length) {
    steps.push(`${cosigners.length} witness cosignature(s) check out; ${minCosignatures} required.`);
  }

  // 5. The receipt's fields.
  const { index, tree_size: treeSize, leaf, proof } = receipt;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize)) {
    throw new ProofError("receipt index and tree_size must be integers");
  }
  if (BigInt(treeSize) !== checkpoint.size) {
    throw new ProofError(`receipt is for tree size ${treeSize} but the checkpoint is for ${checkpoint.size}`);
  }
  steps.push(`The receipt is for the checkpoint's tree size (${treeSize}).`);
  if (typeof leaf !== "string") throw new ProofError("receipt leaf must be a base64 string");
  const raw = decodeAs(leaf, ProofError, "receipt leaf");
  if (!Array.isArray(proof)) throw new ProofError("receipt proof must be a list of base64 hashes");
  const hashes = proof.map((p) => decodeAs(p, ProofError, "receipt proof"));

  // 6. The inclusion proof.
  const hash = await leafHash(raw);
  steps.push(`Leaf hash SHA-256(0x00 || leaf) of entry ${index}: ${toHex(hash)}.`);
  await verifyInclusion(hash, index, treeSize, hashes, checkpoint.root);
  steps.push(`The inclusion proof (${hashes.length} hash${hashes.length === 1 ? "" : "es"}) leads from the leaf to the signed root.`);

  // 7. The entry itself.
  const entry = parseLeaf(raw);
  steps.push(`The leaf is a canonical journal entry: ${entry.kind} by ${entry.command.actor} at ${entry.at}.`);

  return {
    ok: true,
    origin: checkpoint.origin,
    treeSize,
    root: checkpoint.rootB64,
    index,
    leafHash: toHex(hash),
    entry,
    cosigners,
    cosignatures: cosignatures.map(({ name, keyIdHex, verified, known, timestamp }) => ({ name, keyId: keyIdHex, verified, known, timestamp })),
    steps,
  };
}

// --------------------------------------------------------------------------------------------- the page

function el(doc, tag, text, attrs = {}) {
  const node = doc.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function renderResult(out, result, error) {
  const doc = out.ownerDocument;
  const box = el(doc, "div", undefined, { class: `flash ${result ? "ok" : "error"}` });
  const heading = el(doc, "h2", result ? "Verified " : "Not verified ");
  heading.append(el(doc, "small", "(checked in this browser)"));
  box.append(heading);
  if (result) {
    box.append(el(doc, "p", `Entry ${result.index} is in the log of ${result.origin} (tree size ${result.treeSize}) that the pinned key signed.`));
    const entry = el(doc, "p", "Entry ");
    entry.append(el(doc, "code", String(result.entry.id)), `: ${result.entry.kind} by `, el(doc, "code", String(result.entry.command.actor)), ` at ${result.entry.at}`);
    box.append(entry);
  } else {
    box.append(el(doc, "p", (error && error.message) || String(error)));
  }
  const steps = result ? result.steps : (error && error.steps) || [];
  if (steps.length) {
    box.append(el(doc, "p", result ? "Checks done:" : "Checks passed before the failure:"));
    const list = el(doc, "ol");
    for (const step of steps) list.append(el(doc, "li", step));
    box.append(list);
  }
  out.replaceChildren(box);
  out.removeAttribute("aria-busy");
}

/**
 * Runs the check for a receipt form (fields receipt, checkpoint, vkey, witness_vkeys, min_cosignatures).
 * The checkpoint's line breaks are normalised to "\n" and a missing final newline is added (textareas
 * and copy-paste lose it; it is not part of the signed text); an empty checkpoint field falls back to the
 * receipt's own "checkpoint" member.  Resolves to verifyReceipt's result or throws its error.
 * @param {HTMLFormElement} form
 */
export async function verifyForm(form) {
  const field = (name) => {
    const input = form.elements.namedItem(name);
    return input && "value" in input ? input.value : "";
  };
  let receipt;
  try {
    receipt = JSON.parse(field("receipt"));
  } catch (error) {
    throw new ProofError(`receipt is not valid JSON: ${error.message}`);
  }
  let note = field("checkpoint").replace(/\r\n?/g, "\n");
  if (!note.trim() && isObject(receipt) && typeof receipt.checkpoint === "string") note = receipt.checkpoint;
  if (note && !note.endsWith("\n")) note += "\n";
  const min = field("min_cosignatures").trim();
  return verifyReceipt(receipt, note, field("vkey").trim(), {
    witnessVkeys: field("witness_vkeys").replace(/\r\n?/g, "\n"),
    minCosignatures: min === "" ? 0 : Number(min),
  });
}

/**
 * Makes `form` check receipts in this browser: on submit the default (server) request is prevented, the
 * receipt is verified with verifyForm, and the outcome ("Verified" / "Not verified", the message, the
 * entry's kind, actor and time, the list of checks) replaces the content of the element with
 * id="verify-result" (role="status", aria-live="polite"), or of `options.result`.
 * @param {HTMLFormElement} form
 * @param {{result?: HTMLElement}} [options]
 */
export function wire(form, { result } = {}) {
  if (!form || form.dataset.verifyWired === "1") return;
  form.dataset.verifyWired = "1";
  let latest = 0; // a slower earlier check must not overwrite a later one
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = result || form.ownerDocument.getElementById("verify-result");
    if (!out) return;
    const run = ++latest;
    out.setAttribute("aria-busy", "true");
    let outcome;
    let failure = null;
    try {
      outcome = await verifyForm(form);
    } catch (error) {
      failure = error;
    }
    if (run === latest) renderResult(out, failure ? null : outcome, failure);
  });
}

function wireAll() {
  for (const form of document.querySelectorAll("form[data-verify-receipt]")) wire(form);
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wireAll);
  else wireAll();
}
