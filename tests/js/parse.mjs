// Independent parser check: read an .ics with ical.js and print, for one year, every event as
// uid -> [summary, first day, day after the last] (dates as YYYY-MM-DD, never as instants).
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const [file, year] = process.argv.slice(2);
const root = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
const out = {};
for (const vevent of root.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(vevent);
  if (!event.startDate.isDate || !event.endDate.isDate) {
    throw new Error(`${event.uid}: not an all-day event`);
  }
  const start = event.startDate.toString();
  if (start.startsWith(`${year}-`)) {
    out[event.uid] = [event.summary, start, event.endDate.toString()];
  }
}
process.stdout.write(JSON.stringify(out));
