"""Stand-ins for dbt's cross-database macros, so sqlfluff's jinja templater renders models without a profile.

They return SQL of the right shape (DuckDB's), which is all the linter needs; dbt itself never reads this file.
"""


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"({from_date_or_timestamp} + interval '{interval} {datepart}')"


def datediff(first_date, second_date, datepart):
    return f"date_diff('{datepart}', {first_date}, {second_date})"


def generate_series(upper_bound):
    return f"(select range as generated_number from range(1, {upper_bound} + 1))"
