/**
 * The experiments built on top of the pipeline and training: part2 (vanishing
 * gradients in a one-neuron-per-layer chain), the "why not 94%?" study, and the HTML
 * report comparing trained models. Their commands are the `*_cli.ts` files here.
 * @module
 */
export {
  checkTraceOptions,
  COURSE_TRACE,
  generatePart2Table,
  normalizeColumns,
  parsePart2Table,
  PART2_ACTIVATIONS,
  PART2_INITS,
  type Part2Activation,
  Part2DataError,
  type Part2Init,
  type Part2Table,
  readPart2Table,
  summarize,
  type Trace,
  TRACE_COLORS,
  traceChart,
  traceCsv,
  traceGradients,
  type TraceOptions,
  type TraceStep,
} from "./part2.ts";
export {
  batchStatisticsAccuracy,
  type Experiment,
  experimentConfig,
  EXPERIMENTS,
  readStudyRun,
  STUDY_SETS,
  studyChart,
  type StudyRun,
  type StudySet,
  studyTable,
} from "./study.ts";
export { readReportRun, renderReport, type ReportRun } from "./report.ts";
