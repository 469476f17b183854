#!/usr/bin/env node
// Entry point of the `qt` command: runs the TypeScript client through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../client/main.ts');
