from django.urls import path

from performance import views

app_name = "performance"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("me/", views.my_progress, name="my-progress"),
    path("map.geojson", views.map_data, name="map-data"),
    path("export.csv", views.export, name="export"),
    path("recompute/", views.recompute, name="recompute"),
]
