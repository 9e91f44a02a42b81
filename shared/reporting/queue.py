"""The names of reporting's jobs, shared by the API (which enqueues) and the worker (which runs)."""

RUN_REPORT_EXPORT = "reporting_run_export"
