import type { Metadata } from "next";
import type { ReactNode } from "react";

import "./globals.css";

export const metadata: Metadata = {
  title: "Tasks · authbridge",
  description: "A small task list whose API verifies Better Auth tokens with authbridge.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <main id="main" className="page">
          {children}
        </main>
      </body>
    </html>
  );
}
