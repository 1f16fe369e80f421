from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from banking import views

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("loans/", views.loan_list, name="loans"),
    path("loans/<int:pk>/", views.loan_detail, name="loan-detail"),
    path("deposits/", views.deposit_list, name="deposits"),
    path("deposits/new/", views.deposit_new, name="deposit-new"),
    path("deposits/<int:pk>/", views.deposit_detail, name="deposit-detail"),
    path("approvals/", views.approval_list, name="approvals"),
    path("approvals/new/", views.approval_new, name="approval-new"),
    path("approvals/<int:pk>/", views.approval_detail, name="approval-detail"),
    path("approvals/<int:pk>/approve/", views.approval_approve, name="approval-approve"),
    path("approvals/<int:pk>/reject/", views.approval_reject, name="approval-reject"),
    path("journal/", views.journal_list, name="journal"),
    path("journal/new/", views.journal_new, name="journal-new"),
    path("journal/<int:pk>/", views.journal_detail, name="journal-detail"),
    path("accounts/<int:pk>/", views.account_detail, name="account-detail"),
    path("reports/trial-balance/", views.trial_balance, name="trial-balance"),
]
