from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("list/", views.account_list, name="account-list"),
    path("<int:pk>/", views.account_detail, name="account-detail"),
    path("import/", views.account_import, name="account-import"),
    path("export/", views.account_export, name="account-export"),
]
