// The compiled JSON Schema validator (ajv standalone code of schema/cluster.v1alpha1.json). Generated
// by scripts/lib/schema-validator.mjs into the build and the test runner; there is no file to edit.
import type { ValidateFunction } from 'ajv';

declare const validate: ValidateFunction;
export default validate;
