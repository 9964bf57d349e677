// Where TensorProtos live in a serialized ModelProto: the message kinds a walker descends into,
// and by which fields (graphs, nodes, attributes, local functions, sparse tensors, subgraphs of
// If/Loop/Scan). One table for every reader that looks for tensors: the in-memory walker and
// rewriter (ort/onnx.ts) and the file scanner (scan.ts).
import type { TensorPlace } from './tensor.js';

/** The message types the walkers descend into. */
export const Kind = { Model: 0, Graph: 1, Node: 2, Attribute: 3, Sparse: 4, Function: 5, Tensor: 6 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

// field number -> child kind (and, for a tensor, where it sits), for the length-delimited fields
// that hold messages we look into
const CHILDREN: Record<number, Partial<Record<number, readonly [Kind, TensorPlace?]>>> = {
  [Kind.Model]: { 7: [Kind.Graph], 25: [Kind.Function] },
  [Kind.Graph]: { 1: [Kind.Node], 5: [Kind.Tensor, 'initializer'], 15: [Kind.Sparse] },
  [Kind.Node]: { 5: [Kind.Attribute] },
  [Kind.Function]: { 7: [Kind.Node] },
  [Kind.Attribute]: { 5: [Kind.Tensor, 'attribute'], 6: [Kind.Graph], 10: [Kind.Tensor, 'attribute'], 11: [Kind.Graph], 22: [Kind.Sparse], 23: [Kind.Sparse] },
  [Kind.Sparse]: { 1: [Kind.Tensor, 'sparse'], 2: [Kind.Tensor, 'sparse'] },
};

/** Subgraphs nested deeper than this are corrupt (a bound on the recursion of every walker). */
export const MAX_DEPTH = 64;

/** The child a length-delimited field `no` of a `kind` message holds, if walkers look into it. */
export function childOf(kind: Kind, no: number): readonly [Kind, TensorPlace?] | undefined {
  return CHILDREN[kind]?.[no];
}
