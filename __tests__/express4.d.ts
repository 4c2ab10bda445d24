// Express 4 is installed as the dev dependency `express4` (npm:express@4) so tests can mount the
// router in an Express 4 app; its API is close enough to 5's types for that.
declare module 'express4' {
  import express from 'express';
  export default express;
}
