"""Asset keys, groups and the API pool of the AdvancedMD domain (shared by assets, checks and schedules).

Asset keys match the dbt source (`advancedmd`, schema raw_advancedmd), so dbt staging models hang
under the landing assets without a custom translator.
"""

import dagster as dg

GROUP = "advancedmd"
SETUP_GROUP = "advancedmd_setup"
# Every step that calls AdvancedMD runs in this Dagster pool; with a limit of 1
# steps do not compete for the tier budget; the budget itself is enforced across processes by the shared
# limiter state (resources.shared_limiter), so overlapping runs and the command line never exceed a tier.
POOL = "advancedmd_api"

PATIENTS = dg.AssetKey(["advancedmd", "patients"])
INSURANCE = dg.AssetKey(["advancedmd", "insurance"])
PATIENT_LINKS = dg.AssetKey(["advancedmd", "patient_links"])
VISITS = dg.AssetKey(["advancedmd", "visits"])
CHARGES = dg.AssetKey(["advancedmd", "charges"])
VISIT_UPDATES = dg.AssetKey(["advancedmd", "visit_updates"])
ELIGIBILITY = dg.AssetKey(["advancedmd", "eligibility"])
LANDING_TABLES = dg.AssetKey(["advancedmd", "landing_tables"])
CHARGE_SUBMISSIONS = dg.AssetKey(["advancedmd", "charge_submissions"])
PROVIDER_LINKS = dg.AssetKey(["advancedmd", "provider_links"])
TRANSACTIONS = dg.AssetKey(["advancedmd", "transactions"])
CLAIMS = dg.AssetKey(["advancedmd", "claims"])
DEMOGRAPHICS_OUT = dg.AssetKey(["advancedmd", "demographics_out"])
