// The citizen report form: attach the phone's position, and ask for the SMS code without leaving the form.
const form = document.getElementById("citizen-report");
const locate = document.getElementById("citizen-locate");
const positionText = document.getElementById("citizen-position");
const words = JSON.parse(document.getElementById("citizen-strings").textContent);

if (form && locate && navigator.geolocation) {
  locate.hidden = false;
  locate.addEventListener("click", () => {
    positionText.textContent = words.locating;
    navigator.geolocation.getCurrentPosition((found) => {
      form.elements.lat.value = found.coords.latitude.toFixed(7);
      form.elements.lng.value = found.coords.longitude.toFixed(7);
      positionText.textContent = words.located.replace("%(accuracy)s", Math.round(found.coords.accuracy));
    }, () => { positionText.textContent = words.no_position; }, { enableHighAccuracy: true, timeout: 20000 });
  });
}

const sendCode = document.getElementById("citizen-send-code");
if (form && sendCode) {
  sendCode.addEventListener("click", async (event) => {
    event.preventDefault();
    const status = document.getElementById("citizen-code-status");
    const body = new FormData();
    body.append("phone", form.elements.phone.value);
    body.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    try {
      const response = await fetch(form.dataset.codeUrl, { method: "POST", body, headers: { Accept: "application/json" } });
      status.textContent = (await response.json()).detail;
    } catch (error) {
      status.textContent = words.offline;
    }
  });
}
