// The worker's workflow bundle: explicit named exports only.
export { ping } from './ping';
