#!/usr/bin/env node
'use strict';
require('tsx/cjs');
require('../src/client/main.ts');
