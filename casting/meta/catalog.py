"""The suggestion lists behind `/api/meta/...` (free strings elsewhere: these suggest, they do not limit)."""

SKILLS = ["Acting", "Dancing", "Singing", "Modelling", "Kathak", "Bharatanatyam", "Odissi", "Kuchipudi",
          "Bollywood dance", "Contemporary dance", "Hip hop", "Stunts", "Martial arts", "Kalaripayattu",
          "Sword fighting", "Horse riding", "Swimming", "Voice-over", "Dubbing", "Stand-up comedy", "Theatre",
          "Improvisation", "Guitar", "Tabla", "Anchoring", "Mimicry", "Driving", "Yoga", "Cricket",
          "Sign language"]
LANGUAGES = ["Hindi", "English", "Marathi", "Tamil", "Telugu", "Bengali", "Kannada", "Malayalam", "Gujarati",
             "Punjabi", "Urdu", "Odia", "Assamese", "Bhojpuri", "Haryanvi", "Konkani", "Rajasthani", "Tulu"]
CITIES = [("Mumbai", "Maharashtra"), ("Pune", "Maharashtra"), ("Delhi", "Delhi"), ("Bengaluru", "Karnataka"),
          ("Chennai", "Tamil Nadu"), ("Hyderabad", "Telangana"), ("Kolkata", "West Bengal"),
          ("Ahmedabad", "Gujarat"), ("Jaipur", "Rajasthan"), ("Lucknow", "Uttar Pradesh"), ("Kochi", "Kerala"),
          ("Chandigarh", "Chandigarh"), ("Indore", "Madhya Pradesh"), ("Bhopal", "Madhya Pradesh"),
          ("Guwahati", "Assam"), ("Goa", "Goa"), ("Noida", "Uttar Pradesh"), ("Gurugram", "Haryana"),
          ("Thiruvananthapuram", "Kerala"), ("Visakhapatnam", "Andhra Pradesh"), ("Bhubaneswar", "Odisha"),
          ("Patna", "Bihar"), ("Ranchi", "Jharkhand"), ("Dehradun", "Uttarakhand"), ("Amritsar", "Punjab")]
CATEGORIES = ["Actor", "Model", "Dancer", "Singer", "Voice artist", "Anchor", "Child artist", "Stunt performer",
              "Musician", "Comedian", "Influencer", "Junior artist"]
