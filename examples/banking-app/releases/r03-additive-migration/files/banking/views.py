import functools
import logging

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from banking import audit, services
from banking.models import (Account, Deposit, DepositChannel, JournalEntry, Loan, PaymentRequest, RequestKind, RequestStatus)

log = logging.getLogger("banking.views")


def bank_view(roles=None, flag=None):
    """Login required, tenant required; optional role set and module flag (503 when off)."""
    def deco(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.tenant is None:
                raise PermissionDenied("user has no tenant")
            if roles is not None and request.role not in roles:
                log.warning("permission denied", extra={"user": request.user.username, "role": request.role,
                                                       "view": view.__name__})
                audit.record("permission.denied", tenant=request.tenant, actor=request.user,
                             object_type="view", object_id=view.__name__, method=request.method,
                             path=request.path, role=request.role)
                raise PermissionDenied(f"role {request.role} may not do this")
            try:
                if flag:
                    services.require_flag(flag)
                return view(request, *args, **kwargs)
            except services.ModuleDisabled as exc:
                return render(request, "banking/module_disabled.html",
                              {"flag": exc.flag, "reason": exc.reason, "message": str(exc)}, status=503)
        return wrapper
    return deco


@never_cache
@require_GET
def healthz(request):
    # release_dir: the directory this code runs from (releases/<id> on a host), so a deployer can tell
    # when the workers serve the release it just switched to.
    body = {"release": settings.BANKAPP_RELEASE, "version": settings.BANKAPP_VERSION,
            "release_dir": settings.BASE_DIR.name, "time": timezone.now().isoformat()}
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        body["db"] = "ok"
    except Exception as exc:  # noqa: BLE001 - health check reports any DB failure
        body.update(status="error", db="error", error=str(exc)[:200])
        return JsonResponse(body, status=503)
    body["maintenance"] = services.flag_enabled(services.MAINTENANCE)
    body["status"] = "maintenance" if body["maintenance"] else "ok"
    return JsonResponse(body)


@bank_view()
def dashboard(request):
    summary = services.dashboard_summary(request.tenant)
    return render(request, "banking/dashboard.html", {"summary": summary})


@bank_view(flag="loans")
def loan_list(request):
    loans = Loan.objects.filter(tenant=request.tenant)[:100]
    return render(request, "banking/loans.html", {"loans": loans,
                                                  "count": Loan.objects.filter(tenant=request.tenant).count()})


@bank_view(flag="loans")
def loan_detail(request, pk):
    loan = get_object_or_404(Loan, pk=pk, tenant=request.tenant)
    return render(request, "banking/loan_detail.html", {"loan": loan})


def _customer_accounts(tenant):
    return Account.objects.filter(tenant=tenant, is_customer=True).order_by("code")[:50]


@bank_view()
def deposit_list(request):
    deposits = Deposit.objects.filter(tenant=request.tenant).select_related("account")[:50]
    return render(request, "banking/deposits.html", {"deposits": deposits})


@bank_view()
def deposit_detail(request, pk):
    deposit = get_object_or_404(Deposit.objects.select_related("account", "journal_entry"), pk=pk,
                                tenant=request.tenant)
    return render(request, "banking/deposit_detail.html", {"deposit": deposit})


@require_http_methods(["GET", "POST"])
@bank_view(roles=services.POSTING_ROLES)
def deposit_new(request):
    ctx = {"accounts": _customer_accounts(request.tenant), "form": request.POST, "channels": DepositChannel.choices}
    if request.method == "POST":
        services.require_flag("posting")
        account = Account.objects.filter(tenant=request.tenant, code=request.POST.get("account", "").strip(),
                                         is_customer=True).first()
        try:
            if account is None:
                raise ValidationError("unknown customer account")
            deposit = services.post_deposit(request.tenant, account, request.POST.get("amount", ""),
                                            request.POST.get("reference", ""), request.user,
                                            channel=request.POST.get("channel", "").strip() or None)
        except ValidationError as exc:
            ctx["errors"] = exc.messages
            return render(request, "banking/deposit_new.html", ctx, status=400)
        return redirect("deposit-detail", pk=deposit.pk)
    return render(request, "banking/deposit_new.html", ctx)


@bank_view()
def approval_list(request):
    reqs = PaymentRequest.objects.filter(tenant=request.tenant).select_related(
        "from_account", "to_account", "maker", "checker")[:50]
    return render(request, "banking/approvals.html", {"requests": reqs})


@bank_view()
def approval_detail(request, pk):
    req = get_object_or_404(PaymentRequest.objects.select_related("from_account", "to_account", "maker", "checker"),
                            pk=pk, tenant=request.tenant)
    can_decide = (request.role in services.CHECKER_ROLES and req.maker_id != request.user.pk
                  and req.status == RequestStatus.PENDING)
    return render(request, "banking/approval_detail.html", {"req": req, "can_decide": can_decide})


@require_http_methods(["GET", "POST"])
@bank_view(roles=services.MAKER_ROLES, flag="payments")
def approval_new(request):
    ctx = {"accounts": _customer_accounts(request.tenant), "kinds": RequestKind.choices, "form": request.POST}
    if request.method == "POST":
        try:
            req = services.create_payment_request(
                request.tenant, request.POST.get("kind", RequestKind.TRANSFER) or RequestKind.TRANSFER,
                request.POST.get("from_account", "").strip(), request.POST.get("to_account", "").strip(),
                request.POST.get("amount", ""), request.POST.get("memo", ""), request.user)
        except ValidationError as exc:
            ctx["errors"] = exc.messages
            return render(request, "banking/approval_new.html", ctx, status=400)
        return redirect("approval-detail", pk=req.pk)
    return render(request, "banking/approval_new.html", ctx)


def _decide(request, pk, approve):
    req = get_object_or_404(PaymentRequest, pk=pk, tenant=request.tenant)
    try:
        services.decide_payment_request(req, request.user, request.role, approve)
    except ValidationError as exc:
        return render(request, "banking/error.html", {"message": "; ".join(exc.messages)}, status=409)
    return redirect("approval-detail", pk=pk)


@require_POST
@bank_view(roles=services.CHECKER_ROLES, flag="payments")
def approval_approve(request, pk):
    return _decide(request, pk, True)


@require_POST
@bank_view(roles=services.CHECKER_ROLES, flag="payments")
def approval_reject(request, pk):
    return _decide(request, pk, False)


@bank_view()
def journal_list(request):
    entries = JournalEntry.objects.filter(tenant=request.tenant)[:50]
    return render(request, "banking/journal.html", {"entries": entries})


@bank_view()
def journal_detail(request, pk):
    entry = get_object_or_404(JournalEntry, pk=pk, tenant=request.tenant)
    return render(request, "banking/journal_detail.html",
                  {"entry": entry, "lines": entry.lines.select_related("account")})


@require_http_methods(["GET", "POST"])
@bank_view(roles=services.JOURNAL_ROLES)
def journal_new(request):
    accounts = Account.objects.filter(tenant=request.tenant).order_by("code")[:60]
    ctx = {"accounts": accounts, "rows": range(4), "form": request.POST}
    if request.method == "POST":
        services.require_flag("posting")
        raw = list(zip(request.POST.getlist("account"), request.POST.getlist("debit"),
                       request.POST.getlist("credit")))
        try:
            entry = services.post_journal(request.tenant, request.POST.get("description", ""), raw, request.user)
        except ValidationError as exc:
            ctx["errors"] = exc.messages
            ctx["unbalanced"] = any("unbalanced" in m for m in exc.messages)
            return render(request, "banking/journal_new.html", ctx, status=400)
        return redirect("journal-detail", pk=entry.pk)
    return render(request, "banking/journal_new.html", ctx)


@bank_view()
def account_detail(request, pk):
    account = get_object_or_404(Account, pk=pk, tenant=request.tenant)
    return render(request, "banking/account_detail.html", {"account": account})


@bank_view()
def trial_balance(request):
    rows, total_dr, total_cr = services.trial_balance(request.tenant)
    return render(request, "banking/trial_balance.html",
                  {"rows": rows, "total_dr": total_dr, "total_cr": total_cr, "balanced": total_dr == total_cr})
