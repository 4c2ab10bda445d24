// A StrykerJS reporter that appends each mutant's result as one JSON line the moment it is known
// (reports/mutation/<MUTATE_REPORT>.partial.jsonl), so a run stopped before its end still says
// what it tested. The other reporters write only when the whole run is done.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { commonTokens, declareClassPlugin, PluginKind } from '@stryker-mutator/api/plugin';

class PartialReporter {
  static inject = [commonTokens.options];

  constructor(options) {
    this.file = path.resolve(options.jsonReporter.fileName.replace(/\.json$/, '.partial.jsonl'));
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileSync(this.file, '');
  }

  onMutantTested(result) {
    const { id, fileName, mutatorName, replacement, location, status, statusReason, killedBy } =
      result;
    const line = {
      id,
      file: path.relative(process.cwd(), fileName),
      line: location.start.line,
      column: location.start.column,
      mutatorName,
      replacement,
      status,
      killedBy,
      statusReason: status === 'Killed' ? undefined : statusReason,
    };
    appendFileSync(this.file, `${JSON.stringify(line)}\n`);
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, 'partial', PartialReporter)];
