"""The bottom layer: what every app uses and that knows none of them.

Formatting of money, numbers and dates, the upload checks, the serving of generated files, the
status badges, the turning of a service's refusal into a form error, and the state-machine funnel.
"""
