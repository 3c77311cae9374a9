// The department workbench: the photos chosen for "complete" are shown as thumbnails before they are sent.
const input = document.getElementById("complete-photos");
const previews = document.getElementById("complete-previews");
let urls = [];

if (input && previews) {
  input.addEventListener("change", () => {
    urls.forEach((url) => URL.revokeObjectURL(url));
    urls = [];
    previews.replaceChildren();
    Array.from(input.files).forEach((file, index) => {
      const url = URL.createObjectURL(file);
      urls.push(url);
      const item = document.createElement("li");
      const image = document.createElement("img");
      image.src = url;
      image.alt = `${file.name} (${index + 1}/${input.files.length})`;
      image.width = 120;
      image.height = 90;
      item.append(image);
      previews.append(item);
    });
  });
}
