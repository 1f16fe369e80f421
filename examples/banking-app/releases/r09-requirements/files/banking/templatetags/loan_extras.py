from dateutil.relativedelta import relativedelta
from django import template

register = template.Library()


@register.filter
def maturity(loan):
    """The loan's maturity date: opened_on plus term_months calendar months."""
    return loan.opened_on + relativedelta(months=+loan.term_months)
