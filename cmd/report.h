/*
 * report.h - the `pycstrip report` subcommand: renders a JSON summary for
 * CI (src/report.h does the rendering).
 */
#ifndef PS_CMD_REPORT_H
#define PS_CMD_REPORT_H

/*
 * Runs `pycstrip report [--format F] [--github-output FILE] SUMMARY.json`;
 * argv[0] is "report".  Prints the report to standard output and returns
 * the exit status: 0 done; 2 usage error (a one-line reason and a pointer
 * to --help on standard error); 3 the summary cannot be read, is not JSON,
 * has the wrong shape or schema_version, or the output cannot be written
 * ("pycstrip: FILE: reason" on standard error).
 */
int ps_cmd_report(int argc, char **argv);

#endif
