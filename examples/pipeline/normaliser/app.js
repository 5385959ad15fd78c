// The pipeline's normaliser, written in JavaScript: it tidies sign-ups before they
// are validated. Records are plain objects with the fields of `signup`.

export const normalise = {
  normalise(records) {
    return records.map((r) => ({
      email: r.email.trim().toLowerCase(),
      name: r.name.trim().replace(/\s+/g, " "),
      age: r.age,
      country: r.country.trim().toUpperCase(),
    }));
  },
};
