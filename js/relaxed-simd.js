// Whether this JavaScript engine runs WebAssembly's relaxed SIMD (Chromium 114 and later): the
// worker then loads the CPU module built for it (relaxed/, `--features relaxed-simd`), whose
// 8-bit matrix products do sixteen multiply-adds an instruction instead of eight. A module
// with relaxed SIMD instructions does not even compile in an engine without them, so the
// choice is made before loading, by validating the smallest such module: one function that
// returns `i32x4.relaxed_dot_i8x16_i7x16_add_s` of three zero vectors.

const ZERO_VECTOR = [0xfd, 0x0c, ...new Array(16).fill(0)]; // v128.const 0
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: one, () -> v128
  0x03, 0x02, 0x01, 0x00, // functions: one, of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: one body of 59 bytes, no locals
  ...ZERO_VECTOR, ...ZERO_VECTOR, ...ZERO_VECTOR,
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s (0xfd 0x113)
  0x0b, // end
]);

export const relaxedSimd = (() => {
  try {
    return WebAssembly.validate(PROBE);
  } catch {
    return false;
  }
})();
