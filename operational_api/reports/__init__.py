"""Module 10 reports: saved custom reports and scheduled delivery of any report (issue 15, part 2)."""
