// Preloaded into a benchmarked process (`node --import .../maxrss.js`): prints
// its peak resident set size on stderr as it exits, for the bench to read.
process.on('exit', () => {
  process.stderr.write(`\nmaxrss-kb ${process.resourceUsage().maxRSS}\n`);
});
