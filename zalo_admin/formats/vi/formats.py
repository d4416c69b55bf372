# Django's Vietnamese formats leave digit grouping off; operators read 20.000, not 20000.
THOUSAND_SEPARATOR = "."
DECIMAL_SEPARATOR = ","
NUMBER_GROUPING = 3
