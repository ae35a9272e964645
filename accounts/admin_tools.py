"""What the admin pages share to write through services: the service's rules asked by the form.

The Django admin saves a form once it is valid, inside save_model, where a refusal can no longer be
shown next to its field. So the admin forms ask the same rule the service applies (a `*_check`
function of the service module) in clean(); the service applies it again when it writes.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core.refusals import apply_refusal


class ServiceCheckedForm(forms.ModelForm[Any]):
    """A ModelForm that asks the service's rules once its own checks pass."""

    def service_check(self, cleaned_data: dict[str, Any]) -> None:
        """Raise the service's ValidationError for what it would refuse."""

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean() or {}
        if not self.errors:
            try:
                self.service_check(cleaned_data)
            except ValidationError as error:
                apply_refusal(self, error)
        return cleaned_data
