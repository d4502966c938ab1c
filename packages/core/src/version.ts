/** Kept equal to package.json's version (a unit test checks): bundles cannot read package.json portably. */
export const VERSION = '0.1.0'
