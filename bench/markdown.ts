// Replace one generated section of a markdown file (between `<!-- bench:NAME:start -->` and `:end -->`).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Write `report` into `file` between the markers of section `name`, appending the section if it is not there. */
export function writeSection(file: string, name: string, report: string): void {
  const START = `<!-- bench:${name}:start -->`;
  const END = `<!-- bench:${name}:end -->`;
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const section = `${START}\n${report.trim()}\n${END}`;
  const i = old.indexOf(START);
  const j = old.indexOf(END);
  const next = i >= 0 && j > i ? old.slice(0, i) + section + old.slice(j + END.length) : `${old}${old && !old.endsWith('\n') ? '\n' : ''}${section}\n`;
  writeFileSync(file, next);
}
