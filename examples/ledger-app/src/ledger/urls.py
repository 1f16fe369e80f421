from django.urls import path

from books import views

urlpatterns = [path("status/", views.status), path("lines/", views.lines)]
