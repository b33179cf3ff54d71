"""English formats, with times to the second and the zone's abbreviation (``2026-12-03 17:45:12 UTC``).

Django's own English formats show "Dec. 3, 2026, 5:45 p.m.": no seconds, no zone, so an operator cannot
line an event up with a log line or a Salesforce record's timestamp.
"""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
