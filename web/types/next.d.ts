// Next's ambient types, committed so `tsc --noEmit` works before the first `next build`
// (the generated next-env.d.ts is git-ignored).
/// <reference types="next" />
/// <reference types="next/image-types/global" />
