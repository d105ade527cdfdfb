/**
 * Reads what onnxruntime's session metadata does not tell: which operator produces each graph
 * output. A Keras or PyTorch export that ends in Softmax or Sigmoid already answers probabilities,
 * and applying the activation a second time would flatten them, so this is read from the graph,
 * never guessed from the numbers.
 *
 * Only the few ONNX messages and fields needed are declared (field numbers from onnx.proto, ONNX
 * 1.12); protobufjs skips everything else, including the weights.
 */
import protobuf from 'protobufjs';

const root = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: { fields: { graph: { type: 'GraphProto', id: 7 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            opType: { type: 'string', id: 4 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 } } },
      },
    },
  },
});
const ModelProto = root.lookupType('onnx.ModelProto');

interface NodeProto {
  input?: string[];
  output?: string[];
  opType?: string;
}

/** Operators that pass a value through unchanged, looked through when finding the last real one. */
const PASS_THROUGH = new Set(['Identity', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Cast']);

/**
 * For each graph output, the operator that finally computes it (looking through reshapes and
 * identities). Throws when the bytes are not an ONNX model.
 */
export function lastOperators(modelBytes: Uint8Array): Map<string, string> {
  const model = ModelProto.decode(modelBytes) as unknown as { graph?: { node?: NodeProto[]; output?: { name?: string }[] } };
  const nodes = model.graph?.node ?? [];
  const producer = new Map<string, NodeProto>();
  for (const node of nodes) for (const out of node.output ?? []) producer.set(out, node);
  const result = new Map<string, string>();
  for (const out of model.graph?.output ?? []) {
    if (!out.name) continue;
    let node = producer.get(out.name);
    for (let hops = 0; node && PASS_THROUGH.has(node.opType ?? '') && hops < 16; hops++) {
      const next = node.input?.[0];
      node = next === undefined ? undefined : producer.get(next);
    }
    result.set(out.name, node?.opType ?? '');
  }
  return result;
}
