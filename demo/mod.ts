/**
 * The demo (`deno task demo` is demo/demo.ts) and the generated image set it runs
 * on when given no data, which tests and benchmarks use too.
 * @module
 */
export {
  encodeJpeg,
  type FixtureRecord,
  type LabelledSetOptions,
  makeLabelledCache,
  makeLabelledSet,
  renderTaskImage,
} from "./synthetic_set.ts";
