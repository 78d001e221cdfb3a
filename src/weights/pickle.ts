/**
 * A restricted pickle interpreter for PyTorch state dicts. It is a data reader, not a Python VM: it
 * knows only the opcodes a `torch.save`d state dict uses (protocols 2–4) and builds plain JS values.
 * A GLOBAL is resolved through the caller's allow-list (anything else is refused at once, before it
 * could be called), REDUCE may only call what that allow-list returned, and BUILD may only set state
 * on dictionaries (the OrderedDict `_metadata` attribute), which is ignored. Opcodes that construct
 * arbitrary objects (INST, OBJ, NEWOBJ, EXT*, …) are refused by name. Nothing is ever executed,
 * imported or evaluated.
 */

export class PickleError extends Error {}

/** A Python tuple (distinguished from a list). */
export class PyTuple {
  constructor(readonly items: unknown[]) {}
}

/** A Python dict / OrderedDict: insertion-ordered, keys are strings or numbers here. */
export class PyDict {
  readonly map = new Map<unknown, unknown>();
  constructor(readonly kind: 'dict' | 'OrderedDict' = 'dict') {}
}

/** What an allowed global resolves to: a callable the interpreter may REDUCE (call with a tuple). */
export interface PyCallable {
  readonly qualifiedName: string;
  call(args: unknown[]): unknown;
}

export interface UnpickleHooks {
  /** Returns the callable for `module.name`, or throws (PickleError) to refuse it. */
  resolveGlobal(module: string, name: string): PyCallable;
  /** Resolves a persistent id (BINPERSID), e.g. a torch storage reference. */
  persistentLoad(pid: unknown): unknown;
}


/** Names of every pickle opcode, so a refused one is named in the error. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

function opcodeName(op: number): string {
  return OPCODE_NAMES[op] ?? `unknown opcode 0x${op.toString(16).padStart(2, '0')}`;
}

/** Interprets a pickle; `source` names the file in errors. */
export function unpickle(data: Uint8Array, source: string, hooks: UnpickleHooks): unknown {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const fail = (message: string): never => {
    throw new PickleError(`${source}: ${message}`);
  };
  const need = (n: number, what: string) => {
    if (pos + n > buf.length) fail(`truncated pickle (${what} at byte ${pos} needs ${n} bytes, ${buf.length - pos} left)`);
  };
  const u8 = () => (need(1, 'byte'), buf[pos++]!);
  const u16 = () => (need(2, 'uint16'), (pos += 2), buf.readUInt16LE(pos - 2));
  const u32 = () => (need(4, 'uint32'), (pos += 4), buf.readUInt32LE(pos - 4));
  const i32 = () => (need(4, 'int32'), (pos += 4), buf.readInt32LE(pos - 4));
  const u64 = () => {
    need(8, 'uint64');
    const v = buf.readBigUInt64LE(pos);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} at byte ${pos - 8} is too large`);
    return Number(v);
  };
  const bytes = (n: number, what: string) => {
    need(n, what);
    pos += n;
    return buf.subarray(pos - n, pos);
  };
  const line = (what: string) => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated pickle (${what} at byte ${pos} has no newline)`);
    const s = buf.toString('utf8', pos, end);
    pos = end + 1;
    return s;
  };
  const pop = (op: string): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) fail(`${op} at byte ${pos - 1} on an empty stack`);
    return stack.pop();
  };
  const top = (op: string): unknown => {
    if (stack.length === 0) fail(`${op} at byte ${pos - 1} on an empty stack`);
    return stack[stack.length - 1];
  };
  const popMark = (op: string): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail(`${op} at byte ${pos - 1} without a MARK`);
    return stack.splice(m!);
  };
  const memoGet = (i: number, op: string) => {
    if (!memo.has(i)) fail(`${op} of memo slot ${i} that was never set`);
    return memo.get(i);
  };
  const memoPut = (i: number) => memo.set(i, top('PUT'));
  const setItems = (target: unknown, items: unknown[], op: string) => {
    if (!(target instanceof PyDict)) fail(`${op} at byte ${pos - 1} on a ${describe(target)}, not a dict`);
    if (items.length % 2 !== 0) fail(`${op} with an odd number of items`);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'bigint' && typeof key !== 'boolean' && key !== null) {
        fail(`${op}: unsupported dict key type ${describe(key)}`);
      }
      (target as PyDict).map.set(key, items[i + 1]);
    }
  };
  const global = (module: string, name: string) => stack.push(hooks.resolveGlobal(module, name));

  for (;;) {
    if (pos >= buf.length) fail('truncated pickle (no STOP opcode)');
    const at = pos;
    const op = buf[pos++]!;
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail(`unsupported pickle protocol ${buf[pos - 1]}`);
        break;
      case 0x95: // FRAME: a length prefix only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail(`STOP at byte ${at} with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark('TUPLE')));
        break;
      case 0x85: {
        const a = pop('TUPLE1');
        stack.push(new PyTuple([a]));
        break;
      }
      case 0x86: {
        const b = pop('TUPLE2');
        const a = pop('TUPLE2');
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop('TUPLE3');
        const b = pop('TUPLE3');
        const a = pop('TUPLE3');
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        const n = u8();
        const b = bytes(n, 'LONG1');
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8, 'BINFLOAT');
        stack.push(buf.readDoubleBE(pos));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(bytes(u32(), 'BINUNICODE').toString('utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(bytes(u8(), 'SHORT_BINUNICODE').toString('utf8'));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(bytes(u64(), 'BINUNICODE8').toString('utf8'));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Uint8Array.from(bytes(u8(), 'SHORT_BINBYTES')));
        break;
      case 0x42: // BINBYTES
        stack.push(Uint8Array.from(bytes(u32(), 'BINBYTES')));
        break;
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top('MEMOIZE'));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8(), 'BINGET'));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32(), 'LONG_BINGET'));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line('GLOBAL module');
        const name = line('GLOBAL name');
        global(module, name);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL (protocol 4): module and name strings on the stack
        const name = pop('STACK_GLOBAL');
        const module = pop('STACK_GLOBAL');
        if (typeof module !== 'string' || typeof name !== 'string') fail(`STACK_GLOBAL at byte ${at} with non-string operands`);
        global(module as string, name as string);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop('BINPERSID')));
        break;
      case 0x52: {
        // REDUCE: callable(*args), only for callables the allow-list returned
        const args = pop('REDUCE');
        const fn = pop('REDUCE');
        if (!isCallable(fn)) fail(`refused REDUCE at byte ${at}: ${describe(fn)} is not an allowed callable`);
        if (!(args instanceof PyTuple)) fail(`REDUCE at byte ${at}: arguments are a ${describe(args)}, not a tuple`);
        stack.push((fn as PyCallable).call((args as PyTuple).items));
        break;
      }
      case 0x62: {
        // BUILD: only state on a dict (OrderedDict._metadata), which carries nothing we need
        const state = pop('BUILD');
        const target = top('BUILD');
        if (!(target instanceof PyDict)) fail(`refused BUILD at byte ${at} on a ${describe(target)} (only dict state is accepted)`);
        if (state !== null && !(state instanceof PyDict) && !(state instanceof PyTuple)) fail(`refused BUILD at byte ${at} with ${describe(state)} state`);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop('SETITEM');
        const key = pop('SETITEM');
        setItems(top('SETITEM'), [key, value], 'SETITEM');
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark('SETITEMS');
        setItems(top('SETITEMS'), items, 'SETITEMS');
        break;
      }
      case 0x61: {
        // APPEND
        const value = pop('APPEND');
        const list = top('APPEND');
        if (!Array.isArray(list)) fail(`APPEND at byte ${at} on a ${describe(list)}, not a list`);
        (list as unknown[]).push(value);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark('APPENDS');
        const list = top('APPENDS');
        if (!Array.isArray(list)) fail(`APPENDS at byte ${at} on a ${describe(list)}, not a list`);
        (list as unknown[]).push(...items);
        break;
      }
      default:
        fail(`refused pickle opcode ${opcodeName(op)} at byte ${at} (not needed for a state dict; this loader accepts only tensor data)`);
    }
  }
}

function isCallable(v: unknown): v is PyCallable {
  return typeof v === 'object' && v !== null && typeof (v as PyCallable).call === 'function' && typeof (v as PyCallable).qualifiedName === 'string';
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return v.kind;
  if (Array.isArray(v)) return 'list';
  if (isCallable(v)) return v.qualifiedName;
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
