/**
 * The object graph of a TF2 checkpoint (`TrackableObjectGraph`, tensorflow/core/protobuf/
 * trackable_object_graph.proto), stored as the string tensor `_CHECKPOINTABLE_OBJECT_GRAPH`. Node 0
 * is the saved root; each node lists its children (node id + attribute name, e.g. `_trunk`,
 * `_layers`, `0`, `w`) and the tensors it saves (`VARIABLE_VALUE` for a variable), each with its
 * checkpoint key and the variable's full name (Sonnet's `enformer/trunk/stem/conv1_d/w`).
 *
 * A checkpoint key is the object path from the root, each step escaped ("." -> "..", "/" -> ".S"),
 * then `/.ATTRIBUTES/` and the attribute name; TensorFlow names each object by its first path in a
 * breadth-first walk over the children in order. `graphVariables` makes the same walk, so the
 * structural path of every tensor comes from the graph, not from splitting key strings.
 */
import { ProtoReader, TfCheckpointError } from './tf-proto.js';

export interface TrackableChild {
  nodeId: number;
  localName: string;
}

export interface SerializedTensor {
  name: string;
  fullName: string;
  checkpointKey: string;
}

export interface TrackableNode {
  children: TrackableChild[];
  attributes: SerializedTensor[];
}

export function parseObjectGraph(bytes: Uint8Array, what: string): TrackableNode[] {
  const graph = new ProtoReader(bytes, `${what}: object graph`);
  const nodes: TrackableNode[] = [];
  for (const [f, w] of graph.fields()) {
    if (f !== 1) {
      graph.skip(w);
      continue;
    }
    const n = graph.message(w, `node ${nodes.length}`);
    const node: TrackableNode = { children: [], attributes: [] };
    for (const [g, v] of n.fields()) {
      if (g === 1) {
        const c = n.message(v, 'child reference');
        const child: TrackableChild = { nodeId: 0, localName: '' };
        for (const [h, u] of c.fields()) {
          if (h === 1 && u === 0) child.nodeId = c.int('node_id');
          else if (h === 2 && u === 2) child.localName = c.string();
          else c.skip(u);
        }
        node.children.push(child);
      } else if (g === 2) {
        const a = n.message(v, 'attribute');
        const t: SerializedTensor = { name: '', fullName: '', checkpointKey: '' };
        for (const [h, u] of a.fields()) {
          if (h === 1 && u === 2) t.name = a.string();
          else if (h === 2 && u === 2) t.fullName = a.string();
          else if (h === 3 && u === 2) t.checkpointKey = a.string();
          else a.skip(u);
        }
        node.attributes.push(t);
      } else n.skip(v);
    }
    nodes.push(node);
  }
  nodes.forEach((node, i) => {
    for (const c of node.children) if (c.nodeId < 0 || c.nodeId >= nodes.length) graph.fail(`node ${i} has a child ${JSON.stringify(c.localName)} with id ${c.nodeId} (${nodes.length} nodes)`);
  });
  return nodes;
}

/** TensorFlow's escaping of one path step in a checkpoint key. */
export function escapeLocalName(name: string): string {
  return name.replaceAll('.', '..').replaceAll('/', '.S');
}

/** The key TensorFlow gives attribute `attribute` of the object at `path`. */
export function checkpointKey(path: string[], attribute: string): string {
  return `${path.map(escapeLocalName).join('/')}/.ATTRIBUTES/${escapeLocalName(attribute)}`;
}

export interface GraphVariable {
  /** Attribute names from the root to the object that saves the tensor. */
  path: string[];
  nodeId: number;
  /** Attribute of the saved tensor (`VARIABLE_VALUE` for a variable). */
  attribute: string;
  checkpointKey: string;
  fullName: string;
}

/** Deeper object paths than any model needs; bounds the work a hostile graph can cause. */
const MAX_DEPTH = 256;

/** The breadth-first walk from the root: visiting order and each reached node's path. */
export interface ObjectTree {
  order: number[];
  path(id: number): string[];
}

export function objectTree(nodes: TrackableNode[], what: string): ObjectTree {
  const parent = new Int32Array(nodes.length).fill(-2); // -2: not reached
  const edge: string[] = new Array<string>(nodes.length).fill('');
  const depth = new Int32Array(nodes.length);
  const order: number[] = [];
  if (nodes.length > 0) {
    parent[0] = -1;
    order.push(0);
  }
  for (let i = 0; i < order.length; i++) {
    const id = order[i]!;
    for (const c of nodes[id]!.children) {
      if (parent[c.nodeId] !== -2) continue;
      parent[c.nodeId] = id;
      edge[c.nodeId] = c.localName;
      depth[c.nodeId] = depth[id]! + 1;
      if (depth[c.nodeId]! > MAX_DEPTH) throw new TfCheckpointError(`${what}: object graph deeper than ${MAX_DEPTH} levels`);
      order.push(c.nodeId);
    }
  }
  return {
    order,
    path(id: number): string[] {
      const out: string[] = [];
      for (let n = id; parent[n]! >= 0; n = parent[n]!) out.push(edge[n]!);
      return out.reverse();
    },
  };
}

/** Every saved tensor reachable from the root, with its object's breadth-first path. */
export function graphVariables(nodes: TrackableNode[], what = 'checkpoint'): GraphVariable[] {
  const tree = objectTree(nodes, what);
  const out: GraphVariable[] = [];
  for (const id of tree.order) {
    const attributes = nodes[id]!.attributes;
    if (attributes.length === 0) continue;
    const path = tree.path(id);
    for (const a of attributes) out.push({ path, nodeId: id, attribute: a.name, checkpointKey: a.checkpointKey, fullName: a.fullName });
  }
  return out;
}
